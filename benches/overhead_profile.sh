#!/usr/bin/env bash
# Instruction profile of benches/overhead.rs: where the crate's client instructions go,
# against bare reqwest's, per request. See docs/PERFORMANCE.md, "Profile (before)".
#
#   bash benches/overhead_profile.sh                 # bare, raw and flow at concurrency 64
#   DRIVERS="bare raw+tracing" CONCURRENCY=16 bash benches/overhead_profile.sh
#
# Each driver runs twice under callgrind (valgrind 3.19+, `apt-get install valgrind`),
# with N1 and N2 requests (plus the bench's warm-up of a tenth of that); one file per
# thread. Per-function inclusive instruction counts of the client threads (every thread
# but the main one and the server's) are differenced between the two runs and divided by
# the requests between them, which cancels start-up, the warm-up's connection set-up and
# the main thread's work: what is left is the marginal cost of one request. Callgrind
# counts user-space instructions only, and serializes threads, so lock contention and
# kernel time are not in these figures (`perf stat`/`perf record -e cpu-clock` are, see
# the doc).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-${CARGO_TARGET_DIR:-target}/overhead-profile}
DRIVERS=${DRIVERS:-bare raw flow}
CONCURRENCY=${CONCURRENCY:-64}
N1=${N1:-2000}
N2=${N2:-12000}
TOP=${TOP:-60}
mkdir -p "$OUT"

BIN=$(nice -n 10 cargo bench --locked --bench overhead --no-run --message-format=json 2>/dev/null |
  python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "overhead":
        print(m["executable"])')

for d in $DRIVERS; do
  for n in "$N1" "$N2"; do
    rm -f "$OUT/$d-$n".*
    OVERHEAD_DRIVERS=$d OVERHEAD_CONCURRENCY=$CONCURRENCY OVERHEAD_ROUNDS=1 \
      OVERHEAD_REQUESTS=$n OVERHEAD_CRITERION=0 \
      nice -n 10 valgrind --tool=callgrind --separate-threads=yes \
      --callgrind-out-file="$OUT/$d-$n.%p" "$BIN" --bench >"$OUT/$d-$n.log" 2>&1
  done
done

python3 - "$OUT" "$N1" "$N2" "$TOP" $DRIVERS <<'EOF'
import collections, glob, re, subprocess, sys

out, n1, n2, top, drivers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
LINE = re.compile(r'^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[[^\]]*\])?$')

def inclusive(path):
    text = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', path],
                          capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            fn = m.group(2)
            fn = fn[4:] if fn.startswith('???:') else fn
            fn = re.sub(r"'\d+$", '', fn)  # callgrind's names for recursion levels
            costs[fn] = max(costs.get(fn, 0), int(m.group(1).replace(',', '')))
    return costs

def client(prefix):
    total = collections.Counter()
    for f in sorted(glob.glob(prefix + '.*-*')):
        if f.endswith('-01'):
            continue  # the main thread: set-up, and the patch-building loop of the table
        c = inclusive(f)
        if any('serve_connection' in k for k in c) and not any('Bench::measure' in k for k in c):
            continue  # the server thread
        total.update(c)
    return total

requests = (n2 - n1) * 1.1  # the warm-up sends a tenth more
per_request = {}
for d in drivers:
    a, b = client(f'{out}/{d}-{n1}'), client(f'{out}/{d}-{n2}')
    per_request[d] = {k: (b.get(k, 0) - a.get(k, 0)) / requests for k in set(a) | set(b)}

ref = drivers[0]
print('client instructions per request (callgrind Ir, marginal between %d and %d requests)' % (n1, n2))
for d in drivers:
    total = per_request[d].get('PROGRAM TOTALS', 0)
    print(f'  {d:<16} {total:10.0f}  ({total / per_request[ref]["PROGRAM TOTALS"]:.3f} x {ref})')
for d in drivers[1:]:
    print(f'\nfunctions by inclusive Ir per request, largest difference {d} - {ref} first')
    keys = set(per_request[d]) | set(per_request[ref])
    rows = sorted(keys, key=lambda k: -abs(per_request[d].get(k, 0) - per_request[ref].get(k, 0)))
    print(f'{"diff":>8} {ref:>8} {d:>8}')
    for k in rows[:top]:
        x, y = per_request[ref].get(k, 0), per_request[d].get(k, 0)
        print(f'{y - x:8.0f} {x:8.0f} {y:8.0f}  {k[:160]}')
EOF
