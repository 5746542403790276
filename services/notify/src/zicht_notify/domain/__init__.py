"""Pure, synchronous domain code of notify: no I/O."""
