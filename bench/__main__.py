"""``make bench``: run the benchmarks and write their results to ``bench/results/``.

    python -m bench                 every benchmark, in the order below
    python -m bench NAME [NAME...]  some of them (throughput, latency, raw_chain, ...)
    python -m bench --quick         a short smoke run of each (figures not comparable)
    python -m bench report          docs/performance.md from bench/results/*.json

Each benchmark prints a table and writes ``bench/results/<name>.json`` with the machine, the
versions and the git commit. ``throughput`` and ``footprint`` share one run of the chain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final

from bench.common import Result, machine, publish, say

__all__ = ["BENCHMARKS", "main"]

Runner = Callable[[bool], Coroutine[Any, Any, list[Result]]]

OVERRIDES: dict[str, str] = {}
"""Settings from ``--set``, given to every service of the chain benchmarks."""


async def _throughput_and_footprint(quick: bool, *, want: frozenset[str]) -> list[Result]:
    from bench.pipeline import footprint_result, run_pipeline, throughput_result  # noqa: PLC0415 - loaded when run

    window = 15.0 if quick else 60.0
    max_in_flight = 1000
    run = await run_pipeline(
        providers=300,
        warmup_s=5.0 if quick else 10.0,
        window_s=window,
        profile_s=(8.0 if quick else 10.0) if "throughput" in want else 0.0,
        max_in_flight=max_in_flight,
        env=dict(OVERRIDES),
    )
    results = []
    if "throughput" in want:
        results.append(throughput_result(run, max_in_flight=max_in_flight))
    if "footprint" in want:
        results.append(footprint_result(run))
    return results


async def _raw_chain(quick: bool) -> list[Result]:
    from bench.raw_chain import run as raw_chain  # noqa: PLC0415 - loaded when run

    return [await raw_chain(quick=quick)]


async def _latency(quick: bool) -> list[Result]:
    from bench.latency import run as latency  # noqa: PLC0415 - loaded when run

    return [await latency(quick=quick, env=dict(OVERRIDES))]


async def _intake(quick: bool) -> list[Result]:
    from bench.intake_http import run as intake  # noqa: PLC0415 - loaded when run

    return [await intake(quick=quick)]


async def _replay(quick: bool) -> list[Result]:
    from bench.replay import run as replay  # noqa: PLC0415 - loaded when run

    return [await replay(quick=quick)]


async def _growth(quick: bool) -> list[Result]:
    from bench.growth import run as growth  # noqa: PLC0415 - loaded when run

    return [await growth(quick=quick)]


async def _restart(quick: bool) -> list[Result]:
    from bench.restart import run as restart  # noqa: PLC0415 - loaded when run

    return [await restart(quick=quick)]


async def _poison(quick: bool) -> list[Result]:
    from bench.poison import run as poison  # noqa: PLC0415 - loaded when run

    return [await poison(quick=quick)]


BENCHMARKS: Final[tuple[str, ...]] = (
    "raw_chain",
    "throughput",
    "footprint",
    "latency",
    "intake",
    "replay",
    "growth",
    "restart",
    "poison",
)
"""In the order a full run takes them: the raw chain first, so the throughput figures of the
same run have their ratio (it copies the message sizes of the last throughput run); footprint
is measured in the throughput run."""

_RUNNERS: Final[dict[str, Runner]] = {
    "raw_chain": _raw_chain,
    "latency": _latency,
    "intake": _intake,
    "replay": _replay,
    "growth": _growth,
    "restart": _restart,
    "poison": _poison,
}


async def _run(names: Sequence[str], quick: bool) -> int:
    failed: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        started = time.monotonic()
        say(f"{name}: starting{' (quick)' if quick else ''}")
        try:
            if name in ("throughput", "footprint"):
                want = frozenset(n for n in (name, *pending) if n in ("throughput", "footprint"))
                pending = [n for n in pending if n not in want]
                results = await _throughput_and_footprint(quick, want=want)
            else:
                results = await _RUNNERS[name](quick)
        except Exception as exc:  # noqa: BLE001 - one failed benchmark must not stop the others
            traceback.print_exc()
            say(f"{name}: FAILED: {type(exc).__name__}: {exc}")
            failed.append(name)
            continue
        for result in results:
            info = machine(
                postgres=str(result.settings.get("postgres", "")),
                broker=str(result.settings.get("broker", "")),
            )
            path = publish(result, quick=quick, started=started, machine_info=info)
            say(f"{result.name}: written to {path}")
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named benchmarks (all by default) or write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run ({', '.join(BENCHMARKS)}), or 'report'"
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ZICHT_NAME=VALUE",
        help="a setting for every service in the chain benchmarks (repeatable), for tuning",
    )
    args = parser.parse_args(argv)
    for item in args.set:
        name, equals, value = item.partition("=")
        if not equals or not name.startswith("ZICHT_"):
            parser.error(f"--set {item}: expected ZICHT_NAME=VALUE")
        OVERRIDES[name] = value
    # Ctrl-C and SIGTERM stop the run and everything it started, in order. A shell starts a
    # background job with SIGINT ignored; the default handler is put back so both work there.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    if args.names == ["report"]:
        from bench.report import write_report  # noqa: PLC0415 - loaded when asked

        path = write_report()
        say(f"report written to {path}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = [n for n in BENCHMARKS if n in args.names] if args.names else list(BENCHMARKS)
    started = time.monotonic()
    code = asyncio.run(_run(names, args.quick))
    say(f"done in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
