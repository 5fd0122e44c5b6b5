#!/usr/bin/env python3
"""Validates pipeline TOML against the pipeline file's JSON Schema
(docs/reference/pipeline.schema.json, from `ovstream config schema`): every pipelines/*.toml
as a whole file, and every ```toml block of README.md and docs/*.md as a fragment (the keys
and values it has must be valid; the tables a whole file needs may be missing).

Prints each problem (file, block line, JSON path, message); exit 1 when there is one.

Usage: .venv/bin/python scripts/check_toml.py
"""
import copy
import json
import re
import sys
import tomllib
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parent.parent


def blocks(page: Path):
    text = page.read_text()
    for m in re.finditer(r"^```toml\n(.*?)^```", text, re.S | re.M):
        yield text[: m.start()].count("\n") + 2, m.group(1)


def main() -> int:
    schema = json.loads((ROOT / "docs/reference/pipeline.schema.json").read_text())
    whole = jsonschema.Draft202012Validator(schema)
    fragment_schema = copy.deepcopy(schema)
    fragment_schema.pop("required", None)
    fragment = jsonschema.Draft202012Validator(fragment_schema)
    problems, checked = [], 0
    for f in sorted((ROOT / "pipelines").glob("*.toml")):
        checked += 1
        for e in whole.iter_errors(tomllib.loads(f.read_text())):
            problems.append(f"{f.relative_to(ROOT)}: {e.json_path}: {e.message}")
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for line, text in blocks(page):
            checked += 1
            where = f"{page.relative_to(ROOT)}:{line}"
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                problems.append(f"{where}: not TOML: {e}")
                continue
            for e in fragment.iter_errors(data):
                problems.append(f"{where}: {e.json_path}: {e.message}")
    for p in problems:
        print(p)
    print(f"{checked} TOML files and blocks checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
