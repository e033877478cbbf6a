#!/usr/bin/env python3
"""Write codegen/STATS.md from codegen/platform-api.json (standard library only).

    python3 codegen/stats.py            # rewrite STATS.md
    python3 codegen/stats.py --check    # fail if STATS.md is out of date

The figures are the ones a Rust generator has to design for: how big each API group is, how
many models each group drags in (the transitive closure of the types its operations use), how
many models groups share, paging styles, enums, recursive types, and names that do not map
cleanly onto Rust identifiers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object", "long", "file", "bytearray",
              "LocalDateTime", "YearMonth"}

# Strict and reserved keywords of Rust 2021 and 2024 (gen is reserved from 2024).
RUST_KEYWORDS = set("""as break const continue crate else enum extern false fn for if impl in let loop match mod
move mut pub ref return self Self static struct super trait true type unsafe use where while async await dyn
abstract become box do final macro override priv typeof unsized virtual yield try gen""".split())
NOT_RAW = {"self", "Self", "super", "crate", "_"}  # cannot be written as r#name
# Names a generated model would shadow if glob-imported next to the prelude or common crates.
PRELUDE = {"Option", "Result", "Vec", "String", "Box", "Some", "None", "Ok", "Err", "Error", "Value", "Map",
           "Duration", "Default", "Clone", "Copy", "Send", "Sync", "Iterator", "From", "Into", "ToString",
           "Drop", "Fn", "Sized", "Unpin", "Debug", "Display", "Hash", "Eq", "Ord", "PartialEq", "PartialOrd",
           "Request", "Response", "Client", "Url", "Uuid", "Date", "Time", "DateTime", "Object", "Empty"}

# The endpoints the hand-written flows use (shared/reference/platform-api-models.md).
CORE_FLOW_OPS = {
    "get_conversations_callbacks", "patch_conversations_callbacks", "post_conversations_callbacks",
    "get_conversations_callback", "patch_conversations_callback",
    "patch_conversations_message_participant_attributes", "patch_conversation_participant_attributes",
    "get_integrations", "post_integrations", "get_integration", "patch_integration", "delete_integration",
    "get_integration_config_current", "put_integration_config_current",
    "get_integrations_actions", "post_integrations_actions", "get_integrations_action",
    "patch_integrations_action", "delete_integrations_action", "post_integrations_action_execute",
    "post_integrations_action_test", "get_integrations_actions_drafts", "post_integrations_actions_drafts",
    "get_integrations_action_draft", "patch_integrations_action_draft", "delete_integrations_action_draft",
    "post_integrations_action_draft_publish", "post_integrations_action_draft_test",
    "post_notifications_channels", "get_notifications_channels", "get_notifications_channel_subscriptions",
    "post_notifications_channel_subscriptions", "put_notifications_channel_subscriptions",
    "delete_notifications_channel_subscriptions", "head_notifications_channel",
}


def refs(t: str | None) -> list[str]:
    if not t:
        return []
    return [x for x in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", t) if x not in ("list", "dict") and x not in PRIMITIVES]


def direct_refs(t: str) -> list[str]:
    """Model names held by value (not inside a list or dict): these need Box in a cycle."""
    return [] if t.startswith(("list[", "dict(")) else refs(t)


def snake(s: str) -> str:
    """heck-style snake_case of a JSON name."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", s)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.strip("_").lower()


def camel_from_snake(s: str) -> str:
    """What serde's rename_all = "camelCase" produces from a snake_case field name."""
    parts = s.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def upper_camel(s: str) -> str:
    """heck-style UpperCamelCase (ToUpperCamelCase) of a model name or enum value."""
    words = snake(s).split("_")
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def op_types(op: dict) -> list[str]:
    ts = [op["returns"]]
    if op["body"]:
        ts.append(op["body"]["type"])
    for k in ("path_params", "query_params", "header_params", "form_params"):
        ts += [p["type"] for p in op[k]]
    return [r for t in ts for r in refs(t)]


def closure(seeds, models) -> set[str]:
    seen = set()
    stack = list(seeds)
    while stack:
        m = stack.pop()
        if m in seen or m not in models:
            continue
        seen.add(m)
        for f in models[m]["fields"]:
            stack.extend(refs(f["type"]))
    return seen


def tarjan(nodes, edges) -> list[list[str]]:
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(100000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render(d: dict) -> str:
    ops, models, groups = d["operations"], d["models"], d["groups"]
    src = d["source"]
    out = []
    w = out.append
    w("# Platform API: the numbers a Rust generator designs for\n")
    w(f"Generated by `codegen/stats.py` from `codegen/platform-api.json` "
      f"({src['package']} {src['version']}, wheel sha256 `{src['sha256'][:16]}…`; "
      f"required-ness etc. from npm {src['supplements'][0]['package']} {src['supplements'][0]['version']}). "
      "Do not edit by hand.\n")

    # ---------------------------------------------------------------- totals
    uniq = {(o["method"], o["path"]) for o in ops}
    dup_entries = sum(1 for o in ops if o["also_in"])
    total_fields = sum(len(m["fields"]) for m in models.values())
    reachable_all = closure({t for o in ops for t in op_types(o)}, models)
    w("## Totals\n")
    w(table(["what", "count"], [
        ["API groups (Python `*Api` classes = features/modules)", len(groups)],
        ["operations (group, name) entries", len(ops)],
        ["distinct operations (method + path)", len(uniq)],
        ["entries that repeat an operation in a second group (swagger multi-tag)", dup_entries],
        ["deprecated operations (entries)", sum(o["deprecated"] for o in ops)],
        ["preview operations (entries; \"subject to breaking changes without notice\")", sum(o["preview"] for o in ops)],
        ["operations without auth (`auth.schemes` empty)", sum(1 for o in ops if not o["auth"]["schemes"])],
        ["models", len(models)],
        ["model fields", total_fields],
        ["models reachable from some operation", len(reachable_all)],
        ["fields of reachable models", sum(len(models[m]["fields"]) for m in reachable_all)],
        ["models reachable from no operation (mostly notification topic payloads)", len(models) - len(reachable_all)],
        ["models with no fields", sum(1 for m in models.values() if not m["fields"])],
        ["problems logged by the extractor", len(d["problems"])],
    ]))
    w("")
    unreach = [m for m in models if m not in reachable_all]
    topic = [m for m in unreach if "Topic" in m or m.endswith("Notification")]
    topic_clos = closure(topic, models)
    via_topic = [m for m in unreach if m in topic_clos and m not in topic]
    w(f"Of the {len(unreach)} unreachable models, {len(topic)} have `Topic`/`Notification` in their name: "
      "they are the payloads of the Notifications API (websocket events), which the SDK ships as models "
      f"but no REST operation returns (flow 4, callbacks, needs a few of them); {len(via_topic)} more are used only "
      f"by those; the other {len(unreach) - len(topic) - len(via_topic)} are definitions nothing references "
      "(the platform's description carries them, so the SDK does).\n")

    # ---------------------------------------------------------------- per group
    per_group_ops = defaultdict(list)
    for o in ops:
        per_group_ops[o["group"]].append(o)
    clos = {g: closure({t for o in per_group_ops[g] for t in op_types(o)}, models) for g in groups}
    users = defaultdict(set)
    for g, c in clos.items():
        for m in c:
            users[m].add(g)
    rows = []
    for g in sorted(groups, key=lambda g: (-len(per_group_ops[g]), g)):
        c = clos[g]
        own = sum(1 for m in c if len(users[m]) == 1)
        rows.append([f"`{g}`", groups[g]["api_class"], len(per_group_ops[g]),
                     sum(1 for o in per_group_ops[g] if o["also_in"]),
                     len(c), own, sum(len(models[m]["fields"]) for m in c)])
    w("## Operations and model closures per group\n")
    w("closure = every model a group's operations use (parameters, bodies, returns) and, transitively, "
      "every model those models' fields use. `own` = models in no other group's closure. "
      "`dup` = entries that also appear in another group.\n")
    w(table(["group", "class", "ops", "dup", "closure models", "own", "closure fields"], rows))
    w("")
    sizes = sorted((len(c) for c in clos.values()))
    w(f"Closure sizes: median {sizes[len(sizes)//2]}, smallest {sizes[0]}, largest {sizes[-1]}; "
      f"sum over groups {sum(sizes)} (vs {len(reachable_all)} distinct reachable models: each reachable model "
      f"sits in {sum(sizes)/len(reachable_all):.2f} group closures on average).\n")

    # ---------------------------------------------------------------- sharing
    hist = Counter(len(users[m]) for m in reachable_all)
    buckets = [("1 (private to one group)", lambda n: n == 1), ("2", lambda n: n == 2), ("3-5", lambda n: 3 <= n <= 5),
               ("6-10", lambda n: 6 <= n <= 10), ("11-20", lambda n: 11 <= n <= 20), ("21-40", lambda n: 21 <= n <= 40),
               ("41+", lambda n: n >= 41)]
    w("## Models shared across groups\n")
    w(table(["in how many group closures", "models", "their fields"], [
        [name, sum(v for k, v in hist.items() if f(k)),
         sum(len(models[m]["fields"]) for m in reachable_all if f(len(users[m])))] for name, f in buckets]))
    w("")
    shared = [m for m in reachable_all if len(users[m]) > 1]
    w(f"{len(shared)} models are shared by two or more groups ({sum(len(models[m]['fields']) for m in shared)} fields); "
      f"{hist.get(1, 0)} are private to one group.\n")
    top = sorted(reachable_all, key=lambda m: (-len(users[m]), m))[:25]
    w("Most shared models: " + ", ".join(f"`{m}` ({len(users[m])})" for m in top) + ".\n")

    # hubs: models whose own closure is large (they drag much in)
    hub = sorted(((len(closure([m], models)), m) for m in reachable_all), reverse=True)[:15]
    w("Models whose own closure is largest (using one of them pulls all of these in): " +
      ", ".join(f"`{m}` ({n})" for n, m in hub) + ".\n")

    # per operation
    per_op = sorted(len(closure(op_types(o), models)) for o in ops)
    q = lambda f: per_op[min(len(per_op) - 1, int(f * len(per_op)))]
    w(f"Per operation, the closure is small: median {q(0.5)} models, 90th percentile {q(0.9)}, "
      f"99th {q(0.99)}, largest {per_op[-1]}; {sum(1 for n in per_op if n == 0)} operations use no model at all. "
      "A feature can therefore be any named set of operations (a group, or a hand-picked slice), "
      "with each model compiled when any feature whose closure contains it is on.\n")

    # core flows
    core_ops = [o for o in ops if o["name"] in CORE_FLOW_OPS]
    core = closure({t for o in core_ops for t in op_types(o)}, models)
    core_groups = sorted({o["group"] for o in core_ops})
    w("### The hand-written flows' endpoints\n")
    w(f"The {len({o['name'] for o in core_ops})} operations the five flows call (groups {', '.join(f'`{g}`' for g in core_groups)}) "
      f"use {len(core)} models ({sum(len(models[m]['fields']) for m in core)} fields), against "
      f"{len(set().union(*(clos[g] for g in core_groups)))} for those groups whole.\n")
    per_core = []
    for o in sorted(core_ops, key=lambda o: (o["group"], o["name"])):
        c = closure(op_types(o), models)
        per_core.append([f"`{o['group']}::{o['name']}`", f"{o['method']} {o['path']}", len(c)])
    w(table(["operation", "endpoint", "closure models"], per_core))
    w("")

    # ---------------------------------------------------------------- paging
    w("## List endpoints and paging\n")
    w("From `operations[].paging` (heuristic; the inputs are in the JSON). `pageable` = a next page can be "
      "asked for (paging inputs in the query or body, or a `nextUri` on a GET).\n")
    sty = Counter()
    for o in ops:
        p = o["paging"]
        if p is None:
            continue
        sty[(p["style"] or "not paged (listing without paging fields)", p["pageable"])] += 1
    w(table(["style", "pageable", "operations (entries)"], [[s, pg, n] for (s, pg), n in sorted(sty.items(), key=lambda kv: -kv[1])]))
    w("")
    listing = [o for o in ops if o["returns"] and o["returns"].endswith("EntityListing")]
    el_models = [m for m in models if m.endswith("EntityListing")]
    std = {"entities", "pageSize", "pageNumber", "total", "firstUri", "selfUri", "nextUri", "previousUri", "lastUri", "pageCount"}
    std_n = sum(1 for m in el_models if {f["json"] for f in models[m]["fields"]} == std)
    w(f"{len(listing)} operation entries return a `*EntityListing` ({len({o['returns'] for o in listing})} distinct types). "
      f"Of the {len(el_models)} `*EntityListing` models, {std_n} have exactly the standard ten fields "
      "(`entities, pageSize, pageNumber, total, firstUri, selfUri, nextUri, previousUri, lastUri, pageCount`): "
      "one generic `EntityListing<T>` could replace them.\n")
    shapes = Counter(tuple(sorted(p["response_fields"])) for o in ops if (p := o["paging"]) and p["response_fields"])
    w("Response paging field sets (top 10):\n")
    w(table(["fields", "entries"], [[", ".join(k) or "-", v] for k, v in shapes.most_common(10)]))
    w("")
    qp = Counter(n for o in ops if o["paging"] for n in o["paging"]["query_params"])
    w("Paging query parameters: " + ", ".join(f"`{k}` {v}" for k, v in qp.most_common()) + ".\n")

    # ---------------------------------------------------------------- enums
    enum_fields = [(m, f) for m, mm in models.items() for f in mm["fields"] if f["enum"]]
    sets = Counter(tuple(f["enum"]) for _, f in enum_fields)
    vals = sum(len(f["enum"]) for _, f in enum_fields)
    w("## Enums\n")
    w(f"{len(enum_fields)} model fields carry allowed values ({Counter(f['type'] for _, f in enum_fields)}), "
      f"{vals} values in all, {len(sets)} distinct value lists (generating one Rust enum per distinct list "
      f"instead of per field saves {len(enum_fields) - len(sets)} types). The largest lists: "
      + ", ".join(f"{len(k)} values ×{v}" for k, v in sorted(sets.items(), key=lambda kv: -len(kv[0]))[:5]) + ".\n")
    w("The SDK maps an unknown value to `\"outdated_sdk_version\"` instead of failing: the platform adds "
      "values without notice, so a Rust enum needs a catch-all variant (`Unknown(String)` / `#[serde(other)]`).\n")
    coll = []
    bad_ident = 0
    bad_examples = []
    for (vs, n) in sets.items():
        seen = defaultdict(list)
        for v in vs:
            u = upper_camel(str(v))
            seen[u].append(v)
            if not u or not re.match(r"[A-Za-z]", u):
                bad_ident += 1
                bad_examples.append(v)
        for u, lst in seen.items():
            if len(lst) > 1:
                coll.append((u, lst, n))
    w(f"Enum values that collide after UpperCamelCase within one list: {len(coll)}"
      + (f" (e.g. {', '.join(f'{lst}' for _, lst, _ in coll[:4])})" if coll else "") + "; "
      f"values that give no identifier starting with a letter (empty, digits, symbols): {bad_ident}"
      f" (e.g. {', '.join(repr(v) for v in bad_examples[:8])}). A fallback naming rule is needed.\n")
    qenum = sum(1 for o in ops for p in o["query_params"] if p.get("allowed_values"))
    w(f"Query parameters with allowed values in this JSON: {qenum} (the registry packages do not carry them; "
      "see README, `--js-docs`).\n")

    # ---------------------------------------------------------------- cycles
    edges = {m: sorted({r for f in mm["fields"] for r in refs(f["type"]) if r in models}) for m, mm in models.items()}
    sccs = [c for c in tarjan(list(models), edges) if len(c) > 1 or c[0] in edges.get(c[0], [])]
    in_cycle = {m for c in sccs for m in c}
    selfref = sorted(m for m in models if m in edges[m])
    box_fields = []
    comp_of = {m: i for i, c in enumerate(sccs) for m in c}
    for m in sorted(in_cycle):
        for f in models[m]["fields"]:
            for r in direct_refs(f["type"]):
                if r in comp_of and comp_of[r] == comp_of[m]:
                    box_fields.append((m, f["json"], f["type"]))
    w("## Recursive models (need indirection in Rust)\n")
    big = sorted(sccs, key=len, reverse=True)
    w(f"{len(sccs)} strongly connected components (cycles) hold {len(in_cycle)} models "
      f"({len(in_cycle & reachable_all)} reachable from operations); {len(selfref)} models reference themselves directly. "
      f"Component sizes: {', '.join(str(len(c)) for c in big[:15])}{'…' if len(big) > 15 else ''}.\n")
    w(f"`Vec` and `HashMap` already put their items on the heap, so only fields that hold a model of the same "
      f"component by value need `Box`: {len(box_fields)} fields (an upper bound; a minimal cut is smaller). "
      "A generator can simply box every by-value field whose type is in the same component as its model.\n")
    for c in big[:6]:
        w(f"- {len(c)} models: " + ", ".join(f"`{m}`" for m in c[:12]) + (" …" if len(c) > 12 else ""))
    w("")
    w("Direct self references: " + ", ".join(f"`{m}`" for m in selfref[:40]) + (" …" if len(selfref) > 40 else "") + "\n")
    w("By-value fields that close a cycle (first 30): " +
      ", ".join(f"`{m}.{j}: {t}`" for m, j, t in box_fields[:30]) + "\n")

    # ---------------------------------------------------------------- names
    w("## Names\n")
    json_names = [(m, f) for m, mm in models.items() for f in mm["fields"]]
    kw = [(m, f["json"]) for m, f in json_names if snake(f["json"]) in RUST_KEYWORDS]
    kw_c = Counter(snake(j) for _, j in kw)
    not_raw = [(m, j) for m, j in kw if snake(j) in NOT_RAW]
    invalid = [(m, f["json"]) for m, f in json_names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", f["json"])]
    invalid_c = Counter(j for _, j in invalid)
    digit = [(m, f["json"]) for m, f in json_names if re.match(r"[0-9]", snake(f["json"]) or "0")]
    roundtrip = [(m, f["json"]) for m, f in json_names if camel_from_snake(snake(f["json"])) != f["json"]]
    models_rt = {m for m, _ in roundtrip}
    py_vs = [(m, f["name"], f["json"]) for m, f in json_names if f["name"] != snake(f["json"]) and not f["name"].startswith("pc")]
    dupe_fields = []
    for m, mm in models.items():
        c = Counter(snake(f["json"]) for f in mm["fields"])
        dupe_fields += [(m, k) for k, v in c.items() if v > 1]
    w(table(["what", "count", "examples"], [
        ["field JSON names whose snake_case is a Rust keyword (write `r#type` or rename)", len(kw),
         ", ".join(f"`{k}` {v}" for k, v in kw_c.most_common(12))],
        ["… of which cannot be raw identifiers (`self`, `super`, `crate`)", len(not_raw),
         ", ".join(sorted({f'{m}.{j}' for m, j in not_raw})[:6])],
        ["field JSON names that are not identifiers at all (`$`, `-`, `.`, spaces…)", len(invalid),
         ", ".join(f"`{k}`" for k, _ in invalid_c.most_common(12))],
        ["fields whose snake_case starts with a digit", len(digit), ", ".join(f"`{m}.{j}`" for m, j in digit[:6])],
        ["fields where `rename_all = \"camelCase\"` would not give back the JSON name", len(roundtrip),
         ", ".join(f"`{j}`" for _, j in roundtrip[:10])],
        ["… models containing at least one such field (need per-field `rename`)", len(models_rt), ""],
        ["fields whose Python name differs from heck snake_case of the JSON name (besides `pc*` escapes)", len(py_vs),
         ", ".join(f"`{p}`/`{j}`" for _, p, j in py_vs[:6])],
        ["fields whose Python name is a keyword escape (`pcFrom`, `pcPass`…)",
         sum(1 for _, f in json_names if re.match(r"pc[A-Z]", f["name"])), ""],
        ["two fields of one model with the same snake_case name", len(dupe_fields),
         ", ".join(f"`{m}.{k}`" for m, k in dupe_fields[:6])],
    ]))
    w("")
    camel = defaultdict(list)
    for m in models:
        camel[upper_camel(m)].append(m)
    coll_m = {k: v for k, v in camel.items() if len(v) > 1}
    changed = [m for m in models if upper_camel(m) != m]
    w(f"Model names: {len(changed)} change under heck's UpperCamelCase (acronyms such as `ADFS` → `Adfs`, "
      f"`SCIM...`); {len(coll_m)} collide after it"
      + (": " + "; ".join(" / ".join(f"`{x}`" for x in v) for v in list(coll_m.values())[:10]) if coll_m else "")
      + ". Keeping the SDK's names verbatim (they are valid Rust identifiers) avoids collisions.\n")
    pre = sorted(m for m in models if m in PRELUDE)
    w(f"Model names that shadow prelude or common types: {', '.join(f'`{m}`' for m in pre) or 'none'}.\n")
    long_names = sorted(models, key=len, reverse=True)[:3]
    w(f"Longest model names ({', '.join(str(len(m)) for m in long_names)} characters): "
      + ", ".join(f"`{m}`" for m in long_names) + ".\n")
    gname = [g for g in groups if not re.fullmatch(r"[a-z][a-z0-9_]*", g) or g in RUST_KEYWORDS]
    w(f"Group names that are not plain snake_case identifiers or are keywords: {gname or 'none'}.\n")
    opkw = [o["name"] for o in ops if o["name"] in RUST_KEYWORDS]
    w(f"Operation names that are keywords: {opkw or 'none'}. Longest operation name: "
      f"{max(len(o['name']) for o in ops)} characters.\n")

    # ---------------------------------------------------------------- types
    w("## Field and parameter types\n")
    tc = Counter()
    for mm in models.values():
        for f in mm["fields"]:
            t = f["type"]
            base = re.sub(r"[A-Z][A-Za-z0-9_]*", "Model", t)
            tc[base] += 1
    w(table(["field type (models as `Model`)", "fields"], [[f"`{k}`", v] for k, v in tc.most_common(20)]))
    w("")
    qt = Counter(p["type"] for o in ops for p in o["query_params"])
    w("Query parameter types: " + ", ".join(f"`{k}` {v}" for k, v in qt.most_common()) + ".\n")
    cf = Counter(p["collection_format"] for o in ops for p in o["query_params"] if (p["type"] or "").startswith("list["))
    w(f"List query parameters by collection format (from the JS SDK): {dict(cf)}. The Python SDK joins every "
      "list with `,` instead (csv); the JS SDK repeats the key (`multi`).\n")
    req = Counter(f["required"] for mm in models.values() for f in mm["fields"])
    w(f"Model field required-ness (from the JS SDK typings): required {req[True]}, optional {req[False]}, "
      f"unknown {req[None]} (models or fields newer than npm {src['supplements'][0]['version']}).\n")
    hp = Counter(p["name"] for o in ops for p in o["header_params"])
    w("Header parameters: " + ", ".join(f"`{k}` {v}" for k, v in hp.most_common()) + ".\n")
    body_t = Counter("none" if not o["body"] else ("list" if o["body"]["type"].startswith("list[") else
                     ("map/object" if o["body"]["type"].startswith("dict(") or o["body"]["type"] == "object" else
                      ("primitive" if o["body"]["type"] in PRIMITIVES else "model"))) for o in ops)
    w("Request bodies: " + ", ".join(f"{k} {v}" for k, v in body_t.most_common()) + ".\n")
    ret_t = Counter("none" if not o["returns"] else ("list" if o["returns"].startswith("list[") else
                    ("map/object" if o["returns"].startswith("dict(") or o["returns"] == "object" else
                     ("primitive" if o["returns"] in PRIMITIVES else "model"))) for o in ops)
    w("Responses: " + ", ".join(f"{k} {v}" for k, v in ret_t.most_common()) + ".\n")
    prod = Counter(tuple(o["produces"] or []) for o in ops)
    w("Accept (produces) lists: " + ", ".join(f"{list(k)} {v}" for k, v in prod.most_common()) + ".\n")
    meth = Counter(o["method"] for o in ops)
    w("HTTP methods: " + ", ".join(f"{k} {v}" for k, v in meth.most_common()) + ".\n")
    cons = Counter((k, v) for mm in models.values() for f in mm["fields"] for k, v in (f["constraints"] or {}).items() if k != "pattern")
    pats = sum(1 for mm in models.values() for f in mm["fields"] if f["constraints"] and "pattern" in f["constraints"])
    w(f"Field constraints from the SDK's setters: {sum(cons.values())} length/range bounds and {pats} patterns "
      f"on {sum(1 for mm in models.values() for f in mm['fields'] if f['constraints'])} fields.\n")

    # ---------------------------------------------------------------- size
    w("## Size\n")
    w(f"`platform-api.json`: {len(ops)} operation entries, {len(models)} models, {total_fields} fields. "
      f"A plain struct per model with serde attributes is ~{total_fields * 3 + len(models) * 8:,} lines of Rust "
      f"(≈3 lines a field, 8 a struct; all models), ~{sum(len(models[m]['fields']) for m in reachable_all) * 3 + len(reachable_all) * 8:,} "
      "for the reachable ones; one request builder per distinct operation adds roughly "
      f"{len(uniq) * 40:,} more (≈40 lines each).\n")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=os.path.join(HERE, "platform-api.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "STATS.md"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    text = render(json.load(open(a.json, encoding="utf-8")))
    if a.check:
        old = open(a.out, encoding="utf-8").read() if os.path.exists(a.out) else ""
        if old != text:
            print(f"{a.out} is out of date", file=sys.stderr)
            return 1
        return 0
    open(a.out, "w", encoding="utf-8").write(text)
    print(f"wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
