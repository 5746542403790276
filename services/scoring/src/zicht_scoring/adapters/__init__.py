"""Adapters of scoring: Postgres, Kafka, HTTP."""
