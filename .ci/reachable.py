"""The public API names no type a user cannot name (issue #23).

1. Every type of this crate that a public signature names (a function's arguments and
   answer, a public field, a variant, a trait's or an impl's items) is reachable by a
   public path: rustdoc does not warn about a `pub` type in a private module.
2. Beside its parent: a type the crate root re-exports names, in its own public
   signatures, types of its own module; those are at the root too (`ValidationError`
   holds `Violation`s, so both are `genesys_cloud::*`).

Reads rustdoc's JSON of the crate, which needs a nightly toolchain:

    cargo +nightly rustdoc --lib --all-features -- -Zunstable-options --output-format json
    python3 .ci/reachable.py "$CARGO_TARGET_DIR/doc/genesys_cloud.json"

Exits non-zero and names each offending type, with the signatures that name it.
"""
import json, sys
d = json.load(open(sys.argv[1]))
index, paths = d["index"], d["paths"]
root = str(d["root"])
reach = {}  # id -> public path
every = {}  # id -> every public path
def visit_module(mid, prefix):
    item = index.get(str(mid))
    if item is None: return
    for child in item["inner"]["module"]["items"]:
        c = index.get(str(child))
        if c is None: continue
        kind = next(iter(c["inner"]))
        if kind == "use":
            u = c["inner"]["use"]
            tgt = u.get("id")
            if tgt is None: continue
            t = index.get(str(tgt))
            if u.get("is_glob"):
                if t is not None and "module" in t["inner"]:
                    visit_module(tgt, prefix)
                continue
            name = u["name"]
            every.setdefault(str(tgt), set()).add(prefix + "::" + name)
            if str(tgt) not in reach:
                reach[str(tgt)] = prefix + "::" + name
                if t is not None and "module" in t["inner"]:
                    visit_module(tgt, prefix + "::" + name)
        else:
            if c.get("visibility") != "public" and kind != "impl": continue
            name = c.get("name")
            if name is None: continue
            every.setdefault(str(child), set()).add(prefix + "::" + name)
            if str(child) not in reach:
                reach[str(child)] = prefix + "::" + name
                if kind == "module":
                    visit_module(child, prefix + "::" + name)
visit_module(root, index[root]["name"])

missing = {}
def walk(node, where):
    if isinstance(node, dict):
        rp = node.get("resolved_path")
        if rp is not None:
            i = str(rp.get("id"))
            p = paths.get(i)
            local = (index.get(i) or {}).get("crate_id", (p or {}).get("crate_id")) == 0
            if local and i not in reach:
                name = "::".join(p["path"]) if p else rp.get("path")
                missing.setdefault(name, set()).add(where)
        for v in node.values():
            walk(v, where)
    elif isinstance(node, list):
        for v in node:
            walk(v, where)

def members(item):
    inner = item["inner"]
    kind = next(iter(inner))
    body = inner[kind]
    out = []
    if kind == "struct":
        s = body.get("kind", {})
        for key in ("plain", "tuple"):
            v = s.get(key) if isinstance(s, dict) else None
            if isinstance(v, dict): out += v.get("fields", [])
            elif isinstance(v, list): out += [f for f in v if f is not None]
        out += body.get("impls", [])
    elif kind == "enum":
        out += body.get("variants", []) + body.get("impls", [])
    elif kind == "union":
        out += body.get("fields", []) + body.get("impls", [])
    elif kind == "trait":
        out += body.get("items", [])
    elif kind == "impl":
        out += body.get("items", [])
    elif kind == "variant":
        k = body.get("kind", {})
        if isinstance(k, dict):
            for v in k.values():
                if isinstance(v, dict): out += v.get("fields", [])
                elif isinstance(v, list): out += [f for f in v if f is not None]
    return [str(x) for x in out]

seen = set()
stack = list(reach.items())
while stack:
    i, where = stack.pop()
    if i in seen: continue
    seen.add(i)
    item = index.get(i)
    if item is None or item.get("crate_id") != 0: continue
    inner = item["inner"]
    kind = next(iter(inner))
    if kind == "impl":
        # Only impls whose trait is public or inherent; walk their public items.
        pass
    elif item.get("visibility") not in ("public", "default") and kind not in ("variant",):
        continue
    if kind in ("function", "type_alias", "constant", "static", "struct_field", "assoc_type", "assoc_const", "variant"):
        walk(inner, where)
    if kind == "impl":
        walk({"for": inner["impl"].get("for"), "trait": inner["impl"].get("trait"), "generics": inner["impl"].get("generics")}, where)
    for m in members(item):
        mi = index.get(m)
        if mi is None: continue
        stack.append((m, where + "::" + str(mi.get("name") or next(iter(mi["inner"])))))
print(f"{len(reach)} public paths")
for k, v in sorted(missing.items(), key=lambda kv: str(kv[0])):
    print("UNREACHABLE", k, "<-", sorted(v)[:4])

# Beside their parent: a type the crate root re-exports names, in its own public
# signatures, types of its own module; those are at the root too.
crate = index[root]["name"]
def canonical(i):
    p = paths.get(i)
    return p["path"] if p else None
at_root = {i for i, ps in every.items() if any(p.count("::") == 1 for p in ps)}
beside = {}
for i in at_root:
    item = index.get(i)
    cp = canonical(i)
    if item is None or cp is None or item.get("crate_id") != 0: continue
    module = cp[:-1]
    names = {}
    def collect(node):
        if isinstance(node, dict):
            rp = node.get("resolved_path")
            if rp is not None:
                names[str(rp.get("id"))] = True
            for v in node.values(): collect(v)
        elif isinstance(node, list):
            for v in node: collect(v)
    for m in members(item):
        mi = index.get(m)
        if mi is None: continue
        if next(iter(mi["inner"])) == "impl":
            if mi["inner"]["impl"].get("trait") is not None: continue
            for mm in members(mi):
                x = index.get(mm)
                if x is not None and x.get("visibility") == "public": collect(x["inner"])
        elif mi.get("visibility") in ("public", "default"):
            collect(mi["inner"])
    for n in names:
        ncp = canonical(n)
        if ncp and ncp[0] == crate and ncp[:-1] == module and n not in at_root and n != i:
            beside.setdefault("::".join(ncp), set()).add(crate + "::" + cp[-1])
for k, v in sorted(beside.items()):
    print("NOT BESIDE ITS PARENT", k, "<-", sorted(v))
if missing or beside:
    sys.exit(1)
