-- The triage service keeps its tables in its own schema (the kit has created inbox and outbox).
-- The schema's name is configuration, so it is described through current_schema().
DO $$
BEGIN
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', current_schema(),
        $c$Zicht triage service: assesses each signal against the versioned assessment framework and keeps investigations$c$);
END
$$;
