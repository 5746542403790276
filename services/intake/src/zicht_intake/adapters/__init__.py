"""Adapters of intake: Postgres, Kafka, HTTP."""
