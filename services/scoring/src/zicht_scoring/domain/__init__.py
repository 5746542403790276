"""Pure, synchronous domain code of scoring: no I/O."""
