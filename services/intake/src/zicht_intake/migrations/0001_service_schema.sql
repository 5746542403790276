-- The intake service keeps its tables in its own schema (the kit has created inbox and outbox).
-- The schema's name is configuration, so it is described through current_schema().
DO $$
BEGIN
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', current_schema(),
        $c$Zicht intake service: records what partners submit, identifies the provider, pseudonymises personal data and publishes canonical signals$c$);
END
$$;
