"""Pure, synchronous domain code of triage: no I/O."""
