"""Write every event's JSON Schema to ``schemas/json/<type>.json``: ``-m zicht_schemas.export``."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from zicht_schemas.cloudevents import DEFAULT_SCHEMA_BASE_URL
from zicht_schemas.jsonschema import (
    DEFAULT_SCHEMA_DIR,
    all_event_schemas,
    render_schema,
    schema_file_name,
)

__all__ = ["export", "main"]


def export(directory: Path, *, base_url: str = DEFAULT_SCHEMA_BASE_URL) -> list[Path]:
    """Write every schema into ``directory``; return the files whose content changed.

    Files of types that no longer have a model are left alone: the compatibility check
    reports them, since a published type is never silently dropped.
    """
    directory.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for event_type, schema in sorted(all_event_schemas(base_url=base_url).items()):
        path = directory / schema_file_name(event_type)
        text = render_schema(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m zicht_schemas.export [--dir DIR] [--base-url URL]``."""
    parser = argparse.ArgumentParser(
        prog="python -m zicht_schemas.export",
        description="Write every event's JSON Schema to <dir>/<type>.json.",
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_SCHEMA_DIR, help="where to write (schemas/json)"
    )
    parser.add_argument(
        "--base-url", default=DEFAULT_SCHEMA_BASE_URL, help="base of every schema's $id"
    )
    args = parser.parse_args(argv)
    changed = export(args.dir, base_url=args.base_url)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} schema file(s) changed in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
