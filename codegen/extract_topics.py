#!/usr/bin/env python3
"""Record which model each notification topic's body is, in codegen/platform-api.json.

The Notifications API's topics (``v2.users.{id}.presence``, ...) are not in the Python
SDK: neither the wheel nor the npm package names a topic. Genesys's SDK builder
(``purecloudlabs/platform-client-sdk-common``, ``modules/builder/builder.ts``,
``addNotifications``) reads ``GET /api/v2/notifications/availabletopics?expand=schema``
of a live org, adds each topic's schema to the SDK's models (the ``*Topic*`` models of
the description) and writes the pairs to ``notificationMappings.json`` at the root of
each SDK repository::

    {"notifications": [{"topic": "v2.users.{id}.presence",
                        "class": "PresenceEventUserPresence"}, ...]}

That file, from the .NET SDK's repository at its 269.0.0 release (2026-07-31; its
270.0.0 of 2026-08-15 has the same bytes, and so has the JavaScript repository's
259.0.0), is the source. SDK versions are numbered per language: the Python wheel
269.0.0 the rest of the description comes from is a later build (2026-10-08), whose
repository snapshot is not available; every class the file names is a model of that
wheel. The 1,446 models they reach are used by no operation; nine more unreferenced
`*Topic*`/`*Notification` models have no topic in the file (placeholders such as
`UpdatedTopicObject`, and `V2WfmContinuousForecastSessionEvent…Notification`).

It is read from a path given on the command line (this script downloads nothing; see
``URL`` for where to get it), its sha256 is checked against the pinned one, every class
must be a model of the description, and the pairs are written as the description's
top-level ``topics`` key (``[{"pattern", "model"}]``, sorted by pattern), with
``source.topics`` naming the repository, commit, file and sha256. ``extract.py`` carries both over when it
re-extracts the rest.

    python3 codegen/extract_topics.py path/to/notificationMappings.json
    python3 codegen/extract_topics.py path/to/notificationMappings.json --check

Standard library only. To move to a newer SDK: change ``COMMIT``, ``RELEASE`` and
``SHA256`` below, run it, and read the diff of ``topics``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "platform-api.json")

# Pinned source. Bumping it means changing all three.
REPOSITORY = "MyPureCloud/platform-client-sdk-dotnet"
RELEASE = "269.0.0"
COMMIT = "13d354828c01c9e39680e0b8b8838a211b81d923"
FILE = "notificationMappings.json"
SHA256 = "07827d6f0042a41b932bc20d5b7c993bdb99a1132785042e0a33a2ecabfb1ff3"
URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{FILE}"

# A topic pattern: `v2.` then dot-separated segments, each a literal or `{id}`.
SEGMENT = re.compile(r"^(\{id\}|[A-Za-z0-9_-]+)$")


def source_entry() -> dict:
    """The ``source.topics`` entry of the description."""
    return {
        "repository": REPOSITORY,
        "release": RELEASE,
        "commit": COMMIT,
        "file": FILE,
        "sha256": SHA256,
        "url": URL,
        "built_by": "purecloudlabs/platform-client-sdk-common modules/builder/builder.ts addNotifications "
                    "(GET /api/v2/notifications/availabletopics?expand=schema)",
        "provides": ["topics[] (topic pattern -> model of its eventBody)"],
        "note": "SDK versions are per language: .NET 269.0.0 is dated 2026-07-31, the Python wheel "
                "269.0.0 2026-10-08; every class named is a model of the wheel",
    }


def read_mappings(raw: bytes) -> list[dict]:
    """The ``[{"pattern", "model"}]`` list of a ``notificationMappings.json``, checked."""
    data = json.loads(raw)
    entries = data.get("notifications") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError('no "notifications" list')
    topics = []
    seen = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or set(e) != {"topic", "class"}:
            raise ValueError(f"notifications[{i}]: expected exactly topic and class, got {e!r}")
        pattern, model = e["topic"], e["class"]
        check_pattern(pattern)
        key = pattern.lower()
        if key in seen:
            raise ValueError(f"topic {pattern!r} is listed twice (as {seen[key]!r})")
        seen[key] = pattern
        topics.append({"pattern": pattern, "model": model})
    topics.sort(key=lambda t: t["pattern"])
    return topics


def check_pattern(pattern: str) -> None:
    segments = pattern.split(".")
    if len(segments) < 3 or segments[0] != "v2":
        raise ValueError(f"topic {pattern!r}: expected v2.<area>.…")
    for s in segments:
        if not SEGMENT.match(s):
            raise ValueError(f"topic {pattern!r}: segment {s!r} is neither a literal nor {{id}}")
    if segments[1] == "{id}":
        raise ValueError(f"topic {pattern!r}: the area (second segment) is not a literal")


def merge(description: dict, topics: list[dict], source: dict) -> list[str]:
    """Puts ``topics`` and ``source`` into ``description``; the problems (models it lacks)."""
    models = description["models"]
    missing = sorted({t["model"] for t in topics if t["model"] not in models})
    description["topics"] = topics
    description["source"]["topics"] = source
    return [f"topic model {m} is not a model of the description" for m in missing]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mappings", help=f"{FILE} of {REPOSITORY} at {COMMIT} (from {URL})")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args()

    raw = open(args.mappings, "rb").read()
    got = hashlib.sha256(raw).hexdigest()
    if got != SHA256:
        print(f"sha256 mismatch for {args.mappings}: {got} (pinned {SHA256}, {REPOSITORY}@{COMMIT})",
              file=sys.stderr)
        return 2
    try:
        topics = read_mappings(raw)
    except ValueError as e:
        print(f"{args.mappings}: {e}", file=sys.stderr)
        return 2
    old = open(args.out, "rb").read()
    description = json.loads(old)
    problems = merge(description, topics, source_entry())
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 2
    # The same layout as extract.py writes.
    blob = (json.dumps(description, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    models = len({t["model"] for t in topics})
    print(f"{len(topics)} topics, {models} models, every one in the description", file=sys.stderr)
    if args.check:
        if old != blob:
            print(f"{args.out} is out of date", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date", file=sys.stderr)
        return 0
    with open(args.out, "wb") as f:
        f.write(blob)
    print(f"wrote {args.out} ({len(blob)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
