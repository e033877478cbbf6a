#!/usr/bin/env python3
"""Write JSON documents of every model, serialized by the official Python SDK itself.

The round-trip test of the generated crate (``api/tests/roundtrip``) reads each of these
documents into the generated model, checks that no field was left over as unknown
(``extra``), writes the model back and compares the JSON. The documents must therefore
not come from the description the generator reads (``platform-api.json``): they are made
by running the SDK. For each model class of ``PureCloudPlatformClientV2`` 269.0.0 this
script creates an instance, sets every attribute of its ``swagger_types`` to a sample value
of the declared type through the SDK's own setters (so enum fields get a value the SDK
accepts, constrained fields one that passes its checks), and serializes it with
``ApiClient().sanitize_for_serialization(obj)``, which names the fields by the SDK's
``attribute_map``. Nested models are filled the same way one level down; below that they
are empty objects (every model has a document of its own, so each model's fields are all
exercised at the top of its own document).

Output: ``codegen/sdk-documents.jsonl``, one line per model, ``{"model": NAME, "document":
{...}}``, in name order; the same bytes on every run. The generated crate's round trip
(``cargo test -p genesys-cloud-api --all-features``, ``CI_FULL=1``) reads every line; the
generator copies the documents of a sample of models into ``tests/data/sdk-documents.json``
for the core crate's ``tests/api.rs`` (``cargo test --all-features``, every CI run).

Run (needs the SDK; without it, the script installs the pinned version into a virtual
environment under ``codegen/.cache/sdk-venv`` with pip and runs itself again there):

    python3 codegen/sdk_documents.py            # write codegen/sdk-documents.jsonl (about 15 s)
    python3 codegen/sdk_documents.py --check    # exit 1 if the committed file differs
    cargo run -p genesys-cloud-codegen          # then refresh the sample the generator copies
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache")
VENV = os.path.join(CACHE, "sdk-venv")

PY_PACKAGE = "PureCloudPlatformClientV2"
PY_VERSION = "269.0.0"

OUT = os.path.join(HERE, "sdk-documents.jsonl")

# Nested models are filled to this depth (the document's model is depth 0); deeper ones
# are empty objects.
MAX_DEPTH = 1

# Values tried in order until the SDK's setter accepts one (length, range and pattern
# checks reject the first for a few fields).
STR_CANDIDATES = ["text", "3f2c5e1a-8b4d-4c6e-9f0a-1b2c3d4e5f60", "#a1b2c3", "12"]
INT_CANDIDATES = [7, 1, 12, 100, 86400]
FLOAT_CANDIDATES = [1.5, 1.0, 50.0]
OUTDATED = "outdated_sdk_version"


def ensure_sdk() -> None:
    """Imports the pinned SDK, installing it into a virtual environment first if needed."""
    try:
        from importlib import metadata
        version = metadata.version(PY_PACKAGE)
    except Exception:  # noqa: BLE001 - any failure means: not installed here
        version = None
    if version == PY_VERSION:
        return
    if os.environ.get("SDK_DOCUMENTS_IN_VENV"):
        sys.exit(f"{PY_PACKAGE} {PY_VERSION} is not importable in {sys.executable} (found {version})")
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"{PY_PACKAGE}=={PY_VERSION}"], check=True)
    env = dict(os.environ, SDK_DOCUMENTS_IN_VENV="1")
    os.execve(python, [python, os.path.abspath(__file__), *sys.argv[1:]], env)


class Maker:
    """Builds sample instances of the SDK's models through their own setters."""

    def __init__(self, models) -> None:
        self.models = models
        self.problems: list[str] = []
        self.quirks: set[str] = set()
        self._allowed: dict[tuple[str, str], list[str] | None] = {}

    def allowed_values(self, cls, attr: str) -> list[str] | None:
        """The enum values the SDK's setter accepts (its ``allowed_values``), if any."""
        key = (cls.__name__, attr)
        if key not in self._allowed:
            prop = getattr(cls, attr, None)
            values = None
            if isinstance(prop, property) and prop.fset is not None:
                src = inspect.getsource(prop.fset)
                m = re.search(r"allowed_values = (\[.*?\])\n", src)
                if m:
                    values = json.loads(m.group(1))
            self._allowed[key] = values
        return self._allowed[key]

    def scalar(self, typ: str, index: int, allowed: list[str] | None):
        """Candidate values of a primitive type, best first."""
        if typ == "str":
            if allowed:
                # A different value for different fields, so more variants are read.
                return [allowed[index % len(allowed)]]
            return STR_CANDIDATES
        if typ in ("int", "long"):
            if allowed:
                return [int(allowed[index % len(allowed)])]
            return INT_CANDIDATES
        if typ == "float":
            return FLOAT_CANDIDATES
        if typ == "bool":
            return [True]
        if typ == "date":
            return [dt.date(2024, 1, 31)]
        if typ == "datetime":
            return [dt.datetime(2024, 1, 31, 9, 30, tzinfo=dt.timezone.utc)]
        if typ == "LocalDateTime":
            return [dt.datetime(2024, 1, 31, 9, 30)]
        if typ == "YearMonth":
            from PureCloudPlatformClientV2.year_month import YearMonth
            return [YearMonth(2024, 1)]
        if typ == "object":
            return [{"any": ["json", 1, None]}]
        return None

    def value(self, typ: str, index: int, depth: int, allowed: list[str] | None):
        """Candidate values of a swagger type string (``list[X]``, ``dict(str, X)``, ...)."""
        if typ.startswith("list[") and typ.endswith("]"):
            inner = self.value(typ[5:-1], index, depth, allowed)
            return [[v] for v in inner]
        m = re.fullmatch(r"dict\(str, (.*)\)", typ)
        if m:
            inner = self.value(m.group(1), index, depth, allowed)
            return [{"key": v} for v in inner]
        scalar = self.scalar(typ, index, allowed)
        if scalar is not None:
            return scalar
        return [self.instance(typ, depth + 1)]

    def instance(self, name: str, depth: int):
        cls = getattr(self.models, name)
        obj = cls()
        if depth > MAX_DEPTH:
            return obj
        for index, (attr, typ) in enumerate(obj.swagger_types.items()):
            allowed = self.allowed_values(cls, attr)
            candidates = self.value(typ, index, depth, allowed)
            last = None
            for candidate in candidates:
                try:
                    setattr(obj, attr, candidate)
                except (ValueError, TypeError) as e:
                    last = e
                    continue
                stored = getattr(obj, attr)
                if isinstance(stored, str) and stored == OUTDATED and candidate != OUTDATED:
                    last = f"{candidate!r} became {OUTDATED}"
                    continue
                if typ in ("int", "long") and isinstance(stored, str):
                    # The setter of an integer enum (DomainNetworkAddress.family: 2 or 23)
                    # keeps the value as a string, and the SDK would send "2"; the platform's
                    # JSON carries the number, so the number is what the document holds.
                    self.quirks.add(f"{name}.{attr}")
                    setattr(obj, "_" + attr, int(stored))
                last = None
                break
            if last is not None:
                self.problems.append(f"{name}.{attr} ({typ}): no value accepted: {last}")
                # The attribute the property keeps (setters refuse None where they check).
                setattr(obj, "_" + attr, None)
        return obj


def model_names(models) -> list[str]:
    """Every model class the SDK's models package exports."""
    names = []
    for name, cls in vars(models).items():
        if inspect.isclass(cls) and cls.__module__.startswith(models.__name__ + "."):
            names.append(name)
    return sorted(names)


def documents() -> tuple[list[tuple[str, object]], Maker]:
    models = importlib.import_module(f"{PY_PACKAGE}.models")
    api_client = importlib.import_module(f"{PY_PACKAGE}.api_client")
    client = api_client.ApiClient()
    maker = Maker(models)
    out = []
    for name in model_names(models):
        obj = maker.instance(name, 0)
        out.append((name, client.sanitize_for_serialization(obj)))
    return out, maker


def jsonl_bytes(docs: list[tuple[str, object]]) -> bytes:
    return "".join(
        json.dumps({"model": name, "document": doc}, ensure_ascii=False, separators=(",", ":")) + "\n"
        for name, doc in docs
    ).encode("utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing them")
    args = ap.parse_args()
    ensure_sdk()
    docs, maker = documents()
    problems = set(maker.problems)
    for p in sorted(problems):
        print(f"warning: {p}", file=sys.stderr)
    data = jsonl_bytes(docs)
    try:
        with open(OUT, "rb") as f:
            same = f.read() == data
    except FileNotFoundError:
        same = False
    rel = os.path.relpath(OUT, ROOT)
    if args.check:
        if not same:
            print(f"{rel} is stale: run python3 codegen/sdk_documents.py", file=sys.stderr)
            return 1
        print(f"{rel} is up to date ({len(docs)} models)")
        return 0
    if not same:
        with open(OUT, "wb") as f:
            f.write(data)
    print(f"{rel}: {len(docs)} models, {len(data)} bytes; "
          f"{len(problems)} fields without a value the SDK accepts; "
          f"{len(maker.quirks)} integer enum fields written as numbers, not as the SDK's strings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
