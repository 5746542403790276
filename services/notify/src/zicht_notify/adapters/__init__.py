"""Adapters of notify: Postgres, Kafka, HTTP."""
