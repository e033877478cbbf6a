#!/usr/bin/env bash
# Regenerates golden.json from corpus.json with Apache Velocity as Debian ships it.
#
#   sudo apt-get install -y velocity libvelocity-tools-java libjackson2-databind-java
#   tests/velocity-oracle/regenerate.sh
#
# corpus.json itself is produced by gen_corpus.py (python3, standard library only) from the
# hand-written cases in it and the real actions under actions/; regenerate.sh runs it first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
J=/usr/share/java
need=(velocity.jar velocity-tools.jar commons-collections3.jar commons-lang.jar
      jackson-databind.jar jackson-core.jar jackson-annotations.jar)
cp=""
for j in "${need[@]}"; do
  if [ ! -f "$J/$j" ]; then
    echo "missing $J/$j: apt-get install -y velocity libvelocity-tools-java libjackson2-databind-java" >&2
    exit 1
  fi
  cp="$cp:$J/$j"
done
cp="${cp#:}"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT

python3 "$here/gen_corpus.py" "$here/corpus.json"
javac -nowarn -cp "$cp" -d "$build" "$here/Oracle.java"
java -cp "$cp:$build" Oracle "$here/corpus.json" "$here/golden.json"

# Record the exact package versions next to the jar paths Oracle wrote.
python3 - "$here/golden.json" <<'PY'
import json, subprocess, sys
p = sys.argv[1]
g = json.load(open(p, encoding="utf-8"))
def ver(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                              capture_output=True, text=True).stdout.strip() or "?"
    except FileNotFoundError:
        return "?"
g["meta"]["debianPackages"] = {k: ver(k) for k in
    ["velocity", "libvelocity-tools-java", "libjackson2-databind-java", "libcommons-lang-java",
     "libcommons-collections3-java"]}
g["meta"]["velocity"] = "1.7 (Debian package velocity " + g["meta"]["debianPackages"]["velocity"] + ")"
g["meta"]["velocityTools"] = "2.0 (Debian package libvelocity-tools-java " + g["meta"]["debianPackages"]["libvelocity-tools-java"] + ")"
with open(p, "w", encoding="utf-8") as f:
    json.dump(g, f, ensure_ascii=False, indent=2)
    f.write("\n")
PY
echo "golden.json written"
