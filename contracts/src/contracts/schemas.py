"""JSON Schema of every public contract, committed under `contracts/json-schemas/` and checked in CI.

One file per entry of `contracts.registry.all_contracts()`, named after its registry key
(`cn.yiwang.enrolment.register_employer.v1.json`, `actor.json`, ...). Commands and events travel
on the bus inside the envelope, so their file is the schema of `Envelope[Model]`, with the model
itself under `$defs`; queries and the shared models are exported as they are.

    python -m contracts.schemas export [--dir DIR]   write the files, delete stray ones
    python -m contracts.schemas check  [--dir DIR]   exit 1 naming every file that is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts import registry
from contracts.envelope import enveloped

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "json-schemas"
"""`contracts/json-schemas/` in a source checkout.

Not `contracts/schemas/`: with the repository root on `sys.path` (`python -m` run from the root,
pytest's `pythonpath = ["."]`) `contracts` resolves as a namespace package rooted at `contracts/`,
and a folder named `schemas` there would shadow this module. A name that is not a Python
identifier can never shadow one.
"""

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _travels_in_envelope(name: str) -> bool:
    return name in registry.COMMANDS or name in registry.EVENTS


def schema_of(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema exported for the registry entry `name`."""
    exported: type[BaseModel] = enveloped(model) if _travels_in_envelope(name) else model
    return {"$schema": JSON_SCHEMA_DIALECT, **exported.model_json_schema()}


def render(schema: dict[str, Any]) -> str:
    """Stable text: two-space indent, sorted keys, UTF-8 kept readable, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> file text for every contract in the registry."""
    return {f"{name}.json": render(schema_of(name, model)) for name, model in registry.all_contracts().items()}


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into `directory` and delete `.json` files no longer in the registry.

    Returns the files written or deleted (unchanged files are left alone).
    """
    directory.mkdir(parents=True, exist_ok=True)
    wanted = generate()
    touched: list[Path] = []
    for file_name, text in sorted(wanted.items()):
        path = directory / file_name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            touched.append(path)
    for path in sorted(directory.glob("*.json")):
        if path.name not in wanted:
            path.unlink()
            touched.append(path)
    return touched


def check(directory: Path = SCHEMA_DIR) -> list[str]:
    """One line per file that is missing, differs from a fresh export, or is stray; empty when up to date."""
    wanted = generate()
    problems: list[str] = []
    for file_name, text in sorted(wanted.items()):
        path = directory / file_name
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"differs: {path}")
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            if path.name not in wanted:
                problems.append(f"stray (not in the registry): {path}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.schemas", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["export", "check"])
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help=f"schema directory (default: {SCHEMA_DIR})")
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.action == "export":
        touched = export(directory)
        sys.stdout.write(f"{len(touched)} schema file(s) updated in {directory}\n")
        for path in touched:
            sys.stdout.write(f"  {path.name}\n")
        return 0
    problems = check(directory)
    if problems:
        sys.stderr.write("contract schemas are out of date; run `python -m contracts.schemas export`:\n")
        for line in problems:
            sys.stderr.write(f"  {line}\n")
        return 1
    sys.stdout.write(f"contract schemas in {directory} are up to date\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
