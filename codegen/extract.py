#!/usr/bin/env python3
"""Extract a machine-readable description of the Genesys Cloud Platform API.

Writes ``codegen/platform-api.json``: every operation and every model of the
official Python SDK ``PureCloudPlatformClientV2`` (PyPI), read from the wheel's
source with ``ast`` (nothing from the SDK is imported or executed), plus facts
the Python SDK drops that the official JavaScript SDK
``purecloud-platform-client-v2`` (npm) still carries: which model fields are
required, how list query parameters are encoded (multi vs csv), defaults of
query parameters, and the camelCase operationId.

No official OpenAPI/Swagger document is served by a package registry (see
codegen/README.md), so the two official SDKs are the sources.

Run by hand (Python 3.10+, standard library only; pip and npm fetch the pinned
packages when no local files are given):

    python3 codegen/extract.py                 # fetch pinned packages, write JSON
    python3 codegen/extract.py --check         # fail if the committed JSON differs

The notification topics (``topics``, ``source.topics``) come from elsewhere
(``extract_topics.py``); this script keeps the ones already in the JSON.

Optional: ``--js-docs DIR`` reads the per-API markdown docs of a local
checkout of github.com/MyPureCloud/platform-client-sdk-javascript (build/docs/
*Api.md) and adds permissions and query-parameter allowed values. Those docs
are not in any registry package, so the committed JSON is built without them.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "platform-api.json")
CACHE = os.path.join(HERE, ".cache")

# Pinned sources. Bumping a version means changing both the version and the hash.
PY_PACKAGE = "PureCloudPlatformClientV2"
PY_VERSION = "269.0.0"
PY_FILE = "purecloudplatformclientv2-269.0.0-py3-none-any.whl"
PY_SHA256 = "cbedb3bb1d6b9fed230d9c29b8e0e428f950e74c9f9dd298cc25bcb472275c49"

NPM_PACKAGE = "purecloud-platform-client-v2"
NPM_VERSION = "262.0.0"
NPM_FILE = "purecloud-platform-client-v2-262.0.0.tgz"
NPM_SHA256 = "8711590cb1d164dc159ecdcc7b8e943c9c78528332db439c924c3a123a18523a"

FORMAT_VERSION = 1

# LocalDateTime (ISO date-time without offset) and YearMonth ("YYYY-MM") are special-cased by the
# SDK's api_client.py: they are string formats, not models.
PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object", "long", "file", "bytearray",
              "LocalDateTime", "YearMonth"}


# --------------------------------------------------------------------------- sources

def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel() -> str:
    path = os.path.join(CACHE, PY_FILE)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "-d", CACHE, f"{PY_PACKAGE}=={PY_VERSION}"],
            check=True)
    return path


def fetch_npm() -> str:
    path = os.path.join(CACHE, NPM_FILE)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", CACHE],
                       check=True, stdout=subprocess.DEVNULL)
    return path


# --------------------------------------------------------------------------- helpers

class Problems:
    """Everything the extractor could not parse or had to guess, kept in the output."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, where: str, what: str) -> None:
        self.items.append({"where": where, "what": what})

    def sorted(self) -> list[dict]:
        return sorted(self.items, key=lambda p: (p["where"], p["what"]))


def type_refs(t: str | None) -> list[str]:
    """Model names referenced by a swagger_types string such as ``dict(str, list[X])``."""
    if not t:
        return []
    out = []
    for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", t):
        if tok in ("list", "dict") or tok in PRIMITIVES:
            continue
        out.append(tok)
    return out


def typed_default(text: str | None, typ: str | None):
    """A default as the JS SDK's jsdoc writes it ("25", "true", "asc"), typed by the parameter."""
    if text is None:
        return None
    if typ == "int" and re.fullmatch(r"-?\d+", text):
        return int(text)
    if typ == "float" and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if typ == "bool" and text in ("true", "false"):
        return text == "true"
    return text


def group_of(module: str) -> str:
    return module[:-4] if module.endswith("_api") else module


def clean_ws(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.strip().splitlines()).strip()


def lit(node):
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


def sub_key(node) -> str | None:
    """'X' of ``something['X']``."""
    if isinstance(node, ast.Subscript):
        return lit(node.slice)
    return None


def sub_name(node) -> str | None:
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return node.value.id
    return None


# --------------------------------------------------------------------------- Python: APIs

PARAM_RE = re.compile(r"^:param (.+?) ([A-Za-z_][A-Za-z0-9_]*):\s?(.*)$")


def parse_api_docstring(doc: str) -> tuple[str, str, dict, str | None]:
    lines = doc.splitlines()
    summary = lines[0].strip() if lines else ""
    desc_lines = []
    i = 1
    while i < len(lines) and not lines[i].strip().startswith("This method makes a synchronous"):
        desc_lines.append(lines[i])
        i += 1
    params: dict[str, dict] = {}
    ret = None
    cur = None
    for line in lines[i:]:
        s = line.strip()
        m = PARAM_RE.match(s)
        if m:
            cur = m.group(2)
            params[cur] = {"type": m.group(1), "description": m.group(3)}
            continue
        if s.startswith(":return:"):
            ret = s[len(":return:"):].strip()
            cur = None
            continue
        if s.startswith("If the method is called") or s.startswith("returns the request thread"):
            cur = None
            continue
        if cur and s and not s.startswith(":"):
            params[cur]["description"] += "\n" + s
    for p in params.values():
        p["description"] = clean_ws(p["description"])
    return summary, clean_ws("\n".join(desc_lines)), params, ret


def parse_api_method(fn: ast.FunctionDef, cls: str, module: str, probs: Problems) -> dict | None:
    where = f"{cls}.{fn.name}"
    deprecated = any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "deprecated"
        for d in fn.decorator_list)
    doc = ast.get_docstring(fn, clean=True) or ""
    summary, description, doc_params, doc_ret = parse_api_docstring(doc)

    all_params: list[str] = []
    required: set[str] = set()
    resource_path = None
    path_map: list[tuple[str, str]] = []
    query_map: list[tuple[str, str]] = []
    header_map: list[tuple[str, str]] = []
    form_map: list[tuple[str, str]] = []
    body_param = None
    accepts = content_types = None
    auth = None
    http_method = None
    response_type = "__missing__"

    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            tgt, val = node.targets[0], node.value
            if isinstance(tgt, ast.Name):
                if tgt.id == "all_params":
                    all_params = lit(val) or []
                elif tgt.id == "resource_path":
                    # '/api/v2/...'.replace('{format}', 'json')
                    if isinstance(val, ast.Call) and isinstance(val.func, ast.Attribute):
                        resource_path = lit(val.func.value)
                elif tgt.id == "body_params":
                    k = sub_key(val)
                    if k is not None:
                        body_param = k
                elif tgt.id == "auth_settings":
                    auth = lit(val)
            elif isinstance(tgt, ast.Subscript):
                target_dict = sub_name(tgt)
                key = sub_key(tgt)
                src = sub_key(val) if sub_name(val) == "params" else None
                if target_dict == "path_params" and src:
                    path_map.append((key, src))
                elif target_dict == "query_params" and src:
                    query_map.append((key, src))
                elif target_dict == "header_params" and key not in ("Accept", "Content-Type"):
                    if src:
                        header_map.append((key, src))
                    else:
                        probs.add(where, f"header {key!r} not taken from a parameter")
                elif target_dict == "local_var_files" and src:
                    form_map.append((key, src))
                elif target_dict == "header_params" and key in ("Accept", "Content-Type"):
                    if isinstance(val, ast.Call) and val.args:
                        v = lit(val.args[0])
                        if key == "Accept":
                            accepts = v
                        else:
                            content_types = v
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "call_api":
                if len(node.args) >= 2:
                    http_method = lit(node.args[1])
                for kw in node.keywords:
                    if kw.arg == "response_type":
                        response_type = lit(kw.value)
            elif node.func.attr == "append" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "form_params":
                # form_params.append(('name', params['x']))
                if node.args and isinstance(node.args[0], ast.Tuple):
                    k = lit(node.args[0].elts[0])
                    s = sub_key(node.args[0].elts[1])
                    form_map.append((k, s))
        elif isinstance(node, ast.If):
            # if ('x' not in params) or (params['x'] is None): raise ValueError(...)
            t = node.test
            if isinstance(t, ast.BoolOp) and isinstance(t.op, ast.Or) and node.body \
                    and isinstance(node.body[0], ast.Raise):
                for v in t.values:
                    if isinstance(v, ast.Compare) and isinstance(v.ops[0], ast.NotIn):
                        name = lit(v.left)
                        if isinstance(name, str):
                            required.add(name)

    if resource_path is None or http_method is None:
        probs.add(where, "no resource_path or HTTP method found; skipped")
        return None
    if response_type == "__missing__":
        probs.add(where, "call_api without response_type")
        response_type = None

    used = {s for _, s in path_map + query_map + header_map + form_map}
    if body_param:
        used.add(body_param)
    for p in all_params:
        if p not in used:
            probs.add(where, f"parameter {p!r} is in all_params but not sent anywhere")
    for p in all_params:
        if p not in doc_params:
            probs.add(where, f"parameter {p!r} has no :param line")

    def param(json_name: str, py: str) -> dict:
        d = doc_params.get(py, {})
        desc = d.get("description", "")
        desc_req = desc.endswith("(required)")
        if desc_req:
            desc = desc[: -len("(required)")].rstrip()
        if desc_req and py not in required:
            probs.add(where, f"parameter {py!r} says (required) but is not checked")
        return {
            "name": json_name,
            "python_name": py,
            "type": d.get("type"),
            "required": py in required,
            "description": desc,
        }

    placeholders = re.findall(r"\{([^}]+)\}", resource_path)
    if sorted(placeholders) != sorted(k for k, _ in path_map):
        probs.add(where, f"path placeholders {placeholders} differ from path params {[k for k, _ in path_map]}")

    body = None
    if body_param:
        d = doc_params.get(body_param, {})
        desc = d.get("description", "")
        if desc.endswith("(required)"):
            desc = desc[: -len("(required)")].rstrip()
        body = {"python_name": body_param, "type": d.get("type"), "required": body_param in required,
                "description": desc}
        if not body["type"]:
            probs.add(where, "body parameter without a type")

    if doc_ret not in (None, "None") and response_type is not None and doc_ret != response_type:
        probs.add(where, f"docstring return {doc_ret!r} differs from response_type {response_type!r}")

    op = {
        "name": fn.name,
        "group": group_of(module),
        "api_class": cls,
        "method": http_method,
        "path": resource_path,
        "summary": summary,
        "description": description,
        "deprecated": deprecated,
        # Preview APIs "are subject to both breaking and non-breaking changes at any time without
        # notice"; the SDK says so in the description of each one.
        "preview": "is a preview method" in (summary + "\n" + description),
        "path_params": [param(k, s) for k, s in path_map],
        "query_params": [param(k, s) for k, s in query_map],
        "header_params": [param(k, s) for k, s in header_map],
        "form_params": [param(k, s) for k, s in form_map],
        "body": body,
        "returns": response_type,
        "produces": accepts,
        "consumes": content_types,
        "auth": {"schemes": auth, "permissions": None, "permissions_rule": None},
    }
    for p in op["path_params"]:
        if not p["required"]:
            probs.add(where, f"path parameter {p['name']!r} not checked as required")
    return op


def parse_apis(zf: zipfile.ZipFile, probs: Problems) -> tuple[list[dict], dict]:
    ops = []
    classes = {}
    names = sorted(n for n in zf.namelist()
                   if n.startswith(f"{PY_PACKAGE}/apis/") and n.endswith("_api.py"))
    for n in names:
        module = n.rsplit("/", 1)[1][:-3]
        tree = ast.parse(zf.read(n).decode("utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes[group_of(module)] = {"api_class": node.name, "module": module}
                for fn in node.body:
                    if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
                        op = parse_api_method(fn, node.name, module, probs)
                        if op:
                            ops.append(op)
    return ops, classes


# --------------------------------------------------------------------------- Python: models

RANGE_MSG = [
    (re.compile(r"length must be less than `(.+)`"), "max_length"),
    (re.compile(r"length must be greater than or equal to `(.+)`"), "min_length"),
    (re.compile(r"must be a value less than or equal to `(.+)`"), "maximum"),
    (re.compile(r"must be a value greater than or equal to `(.+)`"), "minimum"),
]


def num(s: str):
    try:
        return int(s)
    except ValueError:
        return float(s)


def parse_model(src: str, fname: str, probs: Problems) -> tuple[str, dict] | None:
    tree = ast.parse(src)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if cls is None:
        probs.add(fname, "no class")
        return None
    swagger_types = attribute_map = None
    getters: dict[str, str] = {}
    enums: dict[str, list] = {}
    constraints: dict[str, dict] = defaultdict(dict)
    for fn in cls.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        if fn.name == "__init__":
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
                    a = node.targets[0].attr
                    if a == "swagger_types":
                        swagger_types = node.value
                    elif a == "attribute_map":
                        attribute_map = node.value
            continue
        decos = fn.decorator_list
        if any(isinstance(d, ast.Name) and d.id == "property" for d in decos):
            doc = ast.get_docstring(fn, clean=True) or ""
            lines = doc.splitlines()
            body = []
            for line in lines[1:]:
                if line.strip().startswith(":return:"):
                    break
                body.append(line)
            getters[fn.name] = clean_ws("\n".join(body))
        elif any(isinstance(d, ast.Attribute) and d.attr == "setter" for d in decos):
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                        and node.targets[0].id == "allowed_values":
                    enums[fn.name] = lit(node.value)
                elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                    msg = lit(node.exc.args[0]) or ""
                    done = False
                    for rx, key in RANGE_MSG:
                        m = rx.search(msg)
                        if m:
                            constraints[fn.name][key] = num(m.group(1))
                            done = True
                    if "follow pattern" in msg:
                        done = True  # pattern taken from the re.match call below
                    if not done:
                        probs.add(f"{cls.name}.{fn.name}", f"unparsed setter check: {msg!r}")
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" \
                        and node.func.attr == "match":
                    constraints[fn.name]["pattern"] = lit(node.args[0])
    if swagger_types is None or attribute_map is None:
        probs.add(cls.name, "no swagger_types/attribute_map")
        return None
    types = lit(swagger_types)
    amap = lit(attribute_map)
    order = [lit(k) for k in swagger_types.keys]
    if set(types) != set(amap):
        probs.add(cls.name, "swagger_types and attribute_map keys differ")
    fields = []
    for py in order:
        if py not in getters:
            probs.add(f"{cls.name}.{py}", "no property getter (no description)")
        fields.append({
            "name": py,
            "json": amap.get(py),
            "type": types[py],
            "description": getters.get(py, ""),
            "enum": enums.get(py),
            "constraints": dict(sorted(constraints[py].items())) or None,
            "required": None,
            "readonly": None,
        })
    for py in enums:
        if py not in types:
            probs.add(f"{cls.name}.{py}", "enum setter for a field not in swagger_types")
    return cls.name, {"description": None, "fields": fields, "module": fname}


def parse_models(zf: zipfile.ZipFile, probs: Problems) -> dict:
    models = {}
    names = sorted(n for n in zf.namelist()
                   if n.startswith(f"{PY_PACKAGE}/models/") and n.endswith(".py")
                   and not n.endswith("__init__.py"))
    for n in names:
        mod = n.rsplit("/", 1)[1][:-3]
        r = parse_model(zf.read(n).decode("utf-8"), mod, probs)
        if r:
            name, m = r
            if name in models:
                probs.add(name, f"model defined twice ({models[name]['module']}, {mod})")
            models[name] = m
    return models


def check_init(zf: zipfile.ZipFile, models: dict, classes: dict, probs: Problems) -> dict:
    """Cross-check against the package's own index: the names __init__.py exports."""
    src = zf.read(f"{PY_PACKAGE}/__init__.py").decode("utf-8")
    exported_models = set(re.findall(r"^from \.models\.\w+ import (\w+)$", src, re.M))
    exported_apis = set(re.findall(r"^from \.apis\.\w+ import (\w+)$", src, re.M))
    api_classes = {c["api_class"] for c in classes.values()}
    for m in sorted(exported_models - set(models)):
        probs.add("__init__", f"exported model {m} not extracted")
    for m in sorted(set(models) - exported_models):
        probs.add("__init__", f"extracted model {m} not exported by the package")
    for a in sorted(exported_apis - api_classes):
        probs.add("__init__", f"exported API class {a} not extracted")
    return {"models_exported": len(exported_models), "api_classes_exported": len(exported_apis)}


# --------------------------------------------------------------------------- npm overlay

JS_METHOD_RE = re.compile(
    r"\t/\*\*\n(?P<doc>.*?)\t \*/\n\t(?P<name>\w+)\((?P<args>[^)]*)\) \{ \n(?P<body>.*?)\n\t\}\n",
    re.S)
JS_CALL_RE = re.compile(r"this\.apiClient\.callApi\(\n\t\t\t'(?P<path>[^']*)', \n\t\t\t'(?P<method>\w+)', \n"
                        r"\t\t\t(?P<pathp>\{.*?\}),\n\t\t\t(?P<query>\{.*?\}),\n\t\t\t(?P<header>\{.*?\}),\n"
                        r"\t\t\t(?P<form>\{.*?\}),\n", re.S)
JS_ENTRY_RE = re.compile(r"'(?P<key>[^']+)': (?P<val>this\.apiClient\.buildCollectionParam\((?P<inner>[^)]*?), "
                         r"'(?P<fmt>\w+)'\)|[^,}]+)")
JS_JSDOC_PARAM_RE = re.compile(r"@param \{(?P<type>[^}]*)\} (?P<name>[\w.]+)(?: (?P<desc>.*))?$")


def parse_npm(tgz: str, probs: Problems) -> tuple[dict, dict]:
    """(METHOD, path) -> facts about the operation; model -> {json field: required}."""
    ops: dict[tuple[str, str], dict] = {}
    models: dict[str, dict[str, bool]] = {}
    with tarfile.open(tgz, "r:gz") as tf:
        members = sorted(m.name for m in tf.getmembers()
                         if m.name.startswith("package/src/purecloud-platform-client-v2/api/")
                         and m.name.endswith(".js"))
        for name in members:
            text = tf.extractfile(name).read().decode("utf-8")
            cls = name.rsplit("/", 1)[1][:-3]
            for m in JS_METHOD_RE.finditer(text):
                call = JS_CALL_RE.search(m.group("body"))
                if not call:
                    continue
                where = f"npm {cls}.{m.group('name')}"
                # jsdoc: parameter defaults
                jsdoc = {}
                for line in m.group("doc").splitlines():
                    line = line.strip().lstrip("*").strip()
                    pm = JS_JSDOC_PARAM_RE.match(line)
                    if pm:
                        desc = pm.group("desc") or ""
                        dm = re.search(r"\(default to (.*)\)\s*$", desc)
                        jsdoc[pm.group("name")] = dm.group(1) if dm else None
                query = {}
                for e in JS_ENTRY_RE.finditer(call.group("query")):
                    key = e.group("key")
                    inner = e.group("inner") if e.group("fmt") else e.group("val").strip()
                    vm = re.fullmatch(r"opts\['([^']+)'\]", inner.strip()) if inner else None
                    jsname = ("opts." + vm.group(1)) if vm else (inner or "").strip()
                    query[key] = {"collection_format": e.group("fmt"),
                                  "default": jsdoc.get(jsname)}
                headers = [e.group("key") for e in JS_ENTRY_RE.finditer(call.group("header"))]
                positional = [a.strip() for a in m.group("args").split(",") if a.strip() and a.strip() != "opts"]
                key = (call.group("method"), call.group("path"))
                entry = {"operation_id": m.group("name"), "query": query, "headers": headers,
                         "positional": positional, "deprecated": "@deprecated" in m.group("doc")}
                if key in ops and ops[key]["operation_id"] != entry["operation_id"]:
                    probs.add(where, f"same method+path as {ops[key]['operation_id']}")
                ops.setdefault(key, entry)
        dts = tf.extractfile("package/index.d.ts").read().decode("utf-8")
    start = dts.find("declare namespace Models {")
    if start < 0:
        probs.add("npm index.d.ts", "no Models namespace")
        return ops, models
    cur = None
    for line in dts[start:].splitlines():
        mm = re.match(r"\texport interface (\w+) \{\s*$", line)
        if mm:
            cur = mm.group(1)
            models[cur] = {}
            continue
        if cur is None:
            continue
        if line.startswith("\t}"):
            cur = None
            continue
        fm = re.match(r'\t\t"([^"]+)"(\??): ', line)
        if fm:
            models[cur][fm.group(1)] = fm.group(2) != "?"
        elif line.strip():
            probs.add(f"npm index.d.ts {cur}", f"unparsed line: {line.strip()[:80]!r}")
    return ops, models


# --------------------------------------------------------------------------- optional docs overlay

def parse_js_docs(docs_dir: str, probs: Problems) -> dict:
    """(METHOD, path) -> {permissions, rule, allowed values per query param} from *Api.md files."""
    out = {}
    for fn in sorted(os.listdir(docs_dir)):
        if not fn.endswith("Api.md"):
            continue
        text = open(os.path.join(docs_dir, fn), encoding="utf-8").read()
        for sec in re.split(r"\n## ", text)[1:]:
            hm = re.search(r"^(GET|PUT|POST|PATCH|DELETE|HEAD|OPTIONS) (/\S*)\s*$", sec, re.M)
            if not hm:
                continue
            rule = None
            perms = []
            pm = re.search(r"Requires (ANY|ALL|NO) permissions:?\s*\n((?:\s*\n|\* .*\n)*)", sec)
            if pm:
                rule = pm.group(1).lower()
                perms = re.findall(r"^\* (.+)$", pm.group(2), re.M)
            values = {}
            for row in re.finditer(r"^\s*\*\*(\w+)\*\* \|.*\*\*Values\*\*: ([^|]*)\|", sec, re.M):
                values[row.group(1)] = [v.strip() for v in row.group(2).split(",") if v.strip()]
            out[(hm.group(1), hm.group(2))] = {"permissions": perms, "rule": rule, "values": values}
    return out


# --------------------------------------------------------------------------- paging

PAGING_PARAMS = ["pageNumber", "pageSize", "cursor", "after", "before", "nextPage", "previousPage",
                 "pageToken", "nextPageToken", "limit", "offset", "maxResults"]
PAGING_BODY = ["pageNumber", "cursor", "after", "nextPage", "paging", "pageToken"]
PAGING_FIELDS = ["pageNumber", "pageSize", "pageCount", "total", "nextUri", "previousUri",
                 "firstUri", "lastUri", "cursor", "cursors", "nextPage", "previousPage", "after",
                 "before", "nextCursor", "pageToken", "nextPageToken", "truncated", "hasMore"]


def paging_hint(op: dict, models: dict) -> dict | None:
    """How (and whether) an operation pages. Heuristic; the inputs are kept beside the verdict.

    style: "page_number" (request pageNumber, response pageCount/total), "cursor" (request
    cursor/after/before, response cursor/cursors/nextUri), "page_token" (request nextPage
    token), "next_uri" (only a nextUri to follow), "body" (paging fields in the request body),
    or None when the answer is not paged (a plain object, or a listing with only a total).
    """
    q = [p["name"] for p in op["query_params"] if p["name"] in PAGING_PARAMS]
    body = []
    if op["body"] and op["body"]["type"] in models:
        body = [f["json"] for f in models[op["body"]["type"]]["fields"] if f["json"] in PAGING_BODY]
    ret = op["returns"]
    rm = models.get(ret) if ret else None
    items = None
    fields = []
    if rm:
        for f in rm["fields"]:
            if f["json"] in ("entities", "results") and f["type"].startswith("list["):
                items = {"field": f["json"], "type": f["type"][5:-1]}
                break
        fields = [f["json"] for f in rm["fields"] if f["json"] in PAGING_FIELDS]
    if items is None:
        # pageCount on a Document is not paging: response-only hints need a list of items
        fields = [f for f in fields if f in ("cursor", "cursors", "nextUri", "nextPage")]
    qs, fs = set(q), set(fields)
    if qs & {"cursor", "after", "before"}:
        style = "cursor"
    elif "pageNumber" in qs:
        style = "page_number"
    elif qs & {"nextPage", "pageToken", "nextPageToken"}:
        style = "page_token"
    elif body:
        style = "body"
    elif fs & {"cursor", "cursors", "nextCursor"}:
        style = "cursor"
    elif fs & {"pageNumber", "pageCount"}:
        style = "page_number"
    elif "nextUri" in fs:
        style = "next_uri"
    elif "nextPage" in fs:
        style = "page_token"
    else:
        style = None
    if style is None and not q and items is None:
        return None
    return {
        "style": style,
        # a next page can be asked for: paging inputs in the request, or a nextUri to GET
        "pageable": bool(q or body) or (op["method"] == "GET" and "nextUri" in fs),
        "listing": bool(ret and ret.endswith("EntityListing")) or items is not None,
        "items": items,
        "query_params": q,
        "body_fields": body,
        "response_fields": fields,
    }


# --------------------------------------------------------------------------- main

def build(wheel: str, npm_tgz: str, js_docs: str | None, probs: Problems) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        ops, classes = parse_apis(zf, probs)
        models = parse_models(zf, probs)
        index = check_init(zf, models, classes, probs)
    npm_ops, npm_models = parse_npm(npm_tgz, probs)

    # model field references must resolve
    for name, m in models.items():
        for f in m["fields"]:
            for r in type_refs(f["type"]):
                if r not in models:
                    probs.add(f"{name}.{f['name']}", f"type {f['type']!r} refers to unknown model {r}")
    for op in ops:
        for t in [op["returns"], op["body"] and op["body"]["type"]] + \
                 [p["type"] for k in ("path_params", "query_params", "header_params", "form_params") for p in op[k]]:
            for r in type_refs(t):
                if r not in models:
                    probs.add(f"{op['api_class']}.{op['name']}", f"type {t!r} refers to unknown model {r}")

    # required-ness of model fields from the JS typings
    req_stats = Counter()
    for name, m in models.items():
        jm = npm_models.get(name)
        for f in m["fields"]:
            if jm is None:
                req_stats["model_missing"] += 1
            elif f["json"] in jm:
                f["required"] = jm[f["json"]]
                req_stats["required" if jm[f["json"]] else "optional"] += 1
            else:
                req_stats["field_missing"] += 1

    # operation facts from the JS SDK
    op_stats = Counter()
    docs = parse_js_docs(js_docs, probs) if js_docs else {}
    for op in ops:
        key = (op["method"], op["path"])
        j = npm_ops.get(key)
        op["operation_id"] = j["operation_id"] if j else None
        op_stats["npm_matched" if j else "npm_missing"] += 1
        for p in op["query_params"]:
            jq = (j or {}).get("query", {}).get(p["name"])
            is_list = (p["type"] or "").startswith("list[")
            # The JS SDK names the swagger collectionFormat of every list query parameter; the
            # Python SDK always joins lists with ',' (api_client.to_path_value).
            p["collection_format"] = jq["collection_format"] if jq else None
            p["default"] = typed_default(jq["default"], p["type"]) if jq else None
            p["allowed_values"] = None
            if j and jq is None:
                probs.add(f"{op['api_class']}.{op['name']}", f"query {p['name']!r} not in npm {j['operation_id']}")
            if jq and jq["collection_format"] and not is_list:
                probs.add(f"{op['api_class']}.{op['name']}", f"query {p['name']!r} has a collection format but type {p['type']}")
        if j:
            if j["deprecated"] != op["deprecated"]:
                op_stats["deprecated_differs"] += 1
        d = docs.get(key)
        if d:
            op["auth"]["permissions"] = d["permissions"]
            op["auth"]["permissions_rule"] = d["rule"]
            for p in op["query_params"]:
                if p["name"] in d["values"]:
                    p["allowed_values"] = d["values"][p["name"]]
            op_stats["docs_matched"] += 1
        elif js_docs:
            op_stats["docs_missing"] += 1
        op["paging"] = paging_hint(op, models)

    # the same operation generated into several API classes (swagger operations with several tags)
    by_key = defaultdict(list)
    for op in ops:
        by_key[(op["method"], op["path"])].append(op)
    for key, lst in by_key.items():
        groups = sorted(o["group"] for o in lst)
        names = {o["name"] for o in lst}
        if len(names) > 1:
            probs.add(f"{key[0]} {key[1]}", f"different names across groups: {sorted(names)}")
        for o in lst:
            o["also_in"] = [g for g in groups if g != o["group"]]
    for m in models.values():
        del m["module"]

    ops.sort(key=lambda o: (o["group"], o["name"], o["method"], o["path"]))
    groups = {}
    for g, c in sorted(classes.items()):
        groups[g] = dict(c, operations=sum(1 for o in ops if o["group"] == g))

    unique_ops = len(by_key)
    source = {
        "package": PY_PACKAGE,
        "registry": "PyPI",
        "version": PY_VERSION,
        "file": PY_FILE,
        "sha256": PY_SHA256,
        "supplements": [{
            "package": NPM_PACKAGE,
            "registry": "npm",
            "version": NPM_VERSION,
            "file": NPM_FILE,
            "sha256": NPM_SHA256,
            "provides": ["models.*.fields[].required (index.d.ts optional markers)",
                         "operations[].operation_id",
                         "operations[].query_params[].collection_format",
                         "operations[].query_params[].default"],
        }],
        "official_swagger": "not in any registry package; see codegen/README.md",
    }
    if js_docs:
        source["supplements"].append({
            "package": "platform-client-sdk-javascript build/docs (local checkout)",
            "path": js_docs,
            "provides": ["operations[].auth.permissions", "operations[].query_params[].allowed_values"],
        })
    return {
        "format_version": FORMAT_VERSION,
        "source": source,
        "counts": {
            "operations": len(ops),
            "operations_unique_method_path": unique_ops,
            "operation_names_unique": len({o["name"] for o in ops}),
            "groups": len(groups),
            "models": len(models),
            "model_fields": sum(len(m["fields"]) for m in models.values()),
            "package_index": index,
            "required_overlay": dict(sorted(req_stats.items())),
            "operation_overlay": dict(sorted(op_stats.items())),
            "problems": len(probs.items),
        },
        "groups": groups,
        "operations": ops,
        "models": dict(sorted(models.items())),
        "problems": probs.sorted(),
    }


def carry_topics(out: str, data: dict) -> None:
    """Keeps the ``topics`` (and ``source.topics``) that ``extract_topics.py`` recorded in
    ``out``: the SDK packages hold no topic names. A topic whose model the new extraction
    lacks is an error: run ``extract_topics.py`` on the matching mapping file."""
    if not os.path.exists(out):
        return
    with open(out, "rb") as f:
        old = json.load(f)
    if "topics" not in old:
        return
    sys.path.insert(0, HERE)
    import extract_topics  # noqa: E402 (a sibling script)
    missing = extract_topics.merge(data, old["topics"], old["source"]["topics"])
    if missing:
        raise SystemExit("; ".join(missing) + " (run codegen/extract_topics.py on a newer mapping file)")


def dump(data: dict) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", help=f"local {PY_FILE} (default: pip download into codegen/.cache)")
    ap.add_argument("--npm", help=f"local {NPM_FILE} (default: npm pack into codegen/.cache)")
    ap.add_argument("--js-docs", help="build/docs directory of a platform-client-sdk-javascript checkout")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args()

    wheel = args.wheel or fetch_wheel()
    npm_tgz = args.npm or fetch_npm()
    for path, want in ((wheel, PY_SHA256), (npm_tgz, NPM_SHA256)):
        got = sha256_of(path)
        if got != want:
            print(f"sha256 mismatch for {path}: {got} (pinned {want})", file=sys.stderr)
            return 2

    probs = Problems()
    data = build(wheel, npm_tgz, args.js_docs, probs)
    carry_topics(args.out, data)
    blob = dump(data)
    c = data["counts"]
    print(f"operations {c['operations']} ({c['operations_unique_method_path']} unique method+path), "
          f"groups {c['groups']}, models {c['models']}, fields {c['model_fields']}, problems {c['problems']}",
          file=sys.stderr)
    if args.check:
        old = open(args.out, "rb").read() if os.path.exists(args.out) else b""
        if old != blob:
            print(f"{args.out} is out of date", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date", file=sys.stderr)
        return 0
    with open(args.out, "wb") as f:
        f.write(blob)
    print(f"wrote {args.out} ({len(blob)} bytes, sha256 {hashlib.sha256(blob).hexdigest()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
