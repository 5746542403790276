"""Zicht's benchmarks (not tests): throughput, latency, replay and footprint."""
