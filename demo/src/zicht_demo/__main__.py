"""``python -m zicht_demo``: run the synthetic demo region, or tell one provider's story.

    python -m zicht_demo run --keys FILE [--intake URL --triage URL --scoring URL --notify URL]
        [--rate SIGNALS_PER_S] [--providers N] [--seed N] [--receiver-port PORT]
        [--no-view] [--duration S]
    python -m zicht_demo story PROVIDER_ID [--keys FILE] [service URLs] [--seed N --providers N]

A known problem (no keys file, a service that does not answer, the receiver's port taken) is
one line on stderr and exit status 1; Ctrl-C or SIGTERM stops cleanly with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from zicht_demo.client import ApiError, Endpoints, KeysError, ServiceUnavailableError, ZichtClient
from zicht_demo.client import load_keys as _load_keys
from zicht_demo.region import MAX_PROVIDERS, build_region
from zicht_demo.runner import DemoError, RunOptions, run_demo
from zicht_demo.story import gather_story, render_story

__all__ = ["main"]

_DEFAULTS = Endpoints()
DEFAULT_KEYS = Path(".zicht") / "demo-keys.json"
"""Where ``make run`` writes the demo's keys."""


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _providers(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_PROVIDERS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_PROVIDERS}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:  # noqa: PLR2004 - the TCP port range
        raise argparse.ArgumentTypeError("must be a TCP port (0: any free port)")
    return value


def _common(parser: argparse.ArgumentParser, *, keys_required: bool) -> None:
    if keys_required:
        parser.add_argument("--keys", type=Path, required=True, help="the stack's keys file")
    else:
        parser.add_argument(
            "--keys",
            type=Path,
            default=DEFAULT_KEYS,
            help=f"the stack's keys file (default {DEFAULT_KEYS})",
        )
    for service in ("intake", "triage", "scoring", "notify"):
        parser.add_argument(
            f"--{service}", default=_DEFAULTS.of(service), metavar="URL", help=f"{service} URL"
        )
    parser.add_argument("--seed", type=int, default=1, help="seed of the region (default 1)")
    parser.add_argument(
        "--providers", type=_providers, default=300, help="providers in the region (default 300)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zicht_demo", description="Zicht's synthetic demo region."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="seed the region, then generate signals and watch")
    _common(run, keys_required=True)
    run.add_argument("--rate", type=_positive, default=2.0, help="signals per second (default 2)")
    run.add_argument(
        "--receiver-port", type=_port, default=0, help="webhook receiver port (default: any)"
    )
    run.add_argument("--no-view", action="store_true", help="summary lines instead of the view")
    run.add_argument(
        "--duration", type=_positive, default=None, help="stop S seconds after seeding"
    )
    run.add_argument(
        "--since",
        type=float,
        default=None,
        metavar="EPOCH",
        help="when the whole run started (seconds since the epoch); the first colour change "
        "and first alert are timed from it (default: when the demo starts)",
    )
    story = commands.add_parser("story", help="why a provider is where it is")
    story.add_argument("provider_id", help="the provider's registry id, e.g. demo-0042")
    _common(story, keys_required=False)
    return parser


def _endpoints(args: argparse.Namespace) -> Endpoints:
    return Endpoints(
        intake=args.intake, triage=args.triage, scoring=args.scoring, notify=args.notify
    )


async def _story(args: argparse.Namespace, console: Console) -> int:
    keys = _load_keys(args.keys)
    region = build_region(args.seed, args.providers)
    async with ZichtClient(_endpoints(args), keys) as client:
        story = await gather_story(client, args.provider_id, region=region)
    render_story(story, console)
    answered = story.risk is not None or story.signals or story.alerts
    return 0 if answered or not story.problems else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    try:
        if args.command == "story":
            return asyncio.run(_story(args, console))
        options = RunOptions(
            keys=args.keys,
            endpoints=_endpoints(args),
            rate=args.rate,
            providers=args.providers,
            seed=args.seed,
            receiver_port=args.receiver_port,
            view=not args.no_view,
            duration_s=args.duration,
            started_at=args.since,
        )
        return asyncio.run(run_demo(options, console))
    except KeyboardInterrupt:
        # Ctrl-C before the signal handlers were in place: a clean stop all the same.
        return 0
    except (KeysError, DemoError, ServiceUnavailableError, ApiError) as exc:
        errors.print(f"zicht-demo: {exc}", highlight=False, markup=False, soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
