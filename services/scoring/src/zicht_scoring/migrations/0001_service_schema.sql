-- The scoring service keeps its tables in its own schema (the kit has created inbox and outbox).
-- The schema's name is configuration, so it is described through current_schema().
DO $$
BEGIN
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', current_schema(),
        $c$Zicht scoring service: keeps each provider's risk score and traffic light from indicators and assessed signals$c$);
END
$$;
