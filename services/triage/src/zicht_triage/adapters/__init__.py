"""Adapters of triage: Postgres, Kafka, HTTP."""
