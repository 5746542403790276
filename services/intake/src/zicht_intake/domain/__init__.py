"""Pure, synchronous domain code of intake: no I/O."""
