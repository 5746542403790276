"""``make bench``: run the benchmarks and write their results to ``bench/results/``."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    """Run every benchmark; none exists before the benchmarks issue, so say so plainly."""
    print("bench: no benchmarks yet; they come with the benchmarks issue", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
