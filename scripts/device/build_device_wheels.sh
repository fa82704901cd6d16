#!/usr/bin/env bash
# Build the folder that scripts/device/device_check.sh installs from on a GPU machine that reaches no package registry.
#
#   bash scripts/device/build_device_wheels.sh [PYTHON_VERSION] [DEST]      # defaults: 3.12 and wheels
#
# Run it in the repository root, on a machine with PyPI. PYTHON_VERSION is what `python3 --version` prints on the
# GPU machine (3.12 on this workplace's H100/H200 image). DEST then holds, for CPython PYTHON_VERSION on manylinux
# x86_64:
#   *.whl             the project's runtime dependencies and pytest, with all they need, less torch, triton,
#                     nvidia-*, cuda-* and whatever torch itself needs (sympy, networkx...): the GPU machine's torch
#                     and its dependencies stay as they are; and the build backend (setuptools, wheel) for the
#                     editable install of the project there;
#   requirements.txt  what device_check.sh asks pip to satisfy from these wheels (pip keeps what is installed);
#   BUILT_FOR         the Python version and platforms;
#   data/ptb          PTB's three files (about 6 MiB) from $SEQVAE_DATA/ptb or ../shared/data/ptb, for the table.
# Then carry DEST with the device tool (carry: ["wheels"]) and run `bash scripts/device/device_check.sh` there.
#
# Size: the working tree and DEST travel together and must stay under 64 MiB; the script prints both.
# To leave a dependency out, name it in SKIP (project dependencies, space-separated). The default leaves out what
# neither the GPU tests nor benchmarks/engine_table.py import: tensorboard, scikit-learn and matplotlib (with
# scipy, pillow, grpcio... behind them). SKIP="" fetches them all, well over 64 MiB. The `analysis` extra (spaCy,
# BERTScore) is never fetched. A GPU image with PyTorch often has most of the rest (pip there installs only what is
# missing); numpy is the largest wheel left (about 16 MiB): SKIP="tensorboard scikit-learn matplotlib numpy" drops it.
# A dependency that PyPI has only as a source archive is built into a wheel here first: SDIST_ONLY (default: the
# parser runtime that hydra-core pins).
set -euo pipefail

PYVER=${1:-3.12}
DEST=${2:-wheels}
PY=${PYTHON:-python3}
SKIP=${SKIP-tensorboard scikit-learn matplotlib}
SDIST_ONLY=${SDIST_ONLY-antlr4-python3-runtime==4.9.3}
# pip matches each manylinux_2_N tag exactly: name every glibc up to the GPU machine's (torch's wheels need 2.28).
PLATFORMS=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for n in $(seq 5 "${GLIBC_MINOR:-28}"); do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
TARGET=(--only-binary=:all: --implementation cp --python-version "$PYVER" "${PLATFORMS[@]}")

cd "$(dirname "$0")/../.."
mkdir -p "$DEST"
rm -f "$DEST"/*.whl
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

SKIP="$SKIP" "$PY" - "$DEST/requirements.txt" "$TMP/build.txt" <<'EOF'
import os, re, sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

name = lambda req: re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", req).group()).lower()
skip = {"torch", *(name(s) for s in os.environ["SKIP"].split())}
pyproject = tomllib.load(open("pyproject.toml", "rb"))
project = pyproject["project"]
reqs = [r for r in project["dependencies"] if name(r) not in skip]
reqs += [r for r in project["optional-dependencies"]["test"] if name(r) == "pytest"]
open(sys.argv[1], "w").write("\n".join(reqs) + "\n")
open(sys.argv[2], "w").write("\n".join(pyproject["build-system"]["requires"]) + "\n")
EOF
echo "requirements ($DEST/requirements.txt): $(tr '\n' ' ' < "$DEST/requirements.txt")"

for spec in $SDIST_ONLY; do
    "$PY" -m pip wheel -q --no-deps -w "$DEST" "$spec"
done

echo "resolving for CPython $PYVER, manylinux x86_64 (metadata only; torch is resolved but not fetched)..."
"$PY" -m pip install -q --dry-run --ignore-installed --report "$TMP/report.json" --target "$TMP/target" \
    "${TARGET[@]}" --find-links "$DEST" -r "$DEST/requirements.txt"

"$PY" - "$TMP/report.json" "$DEST" > "$TMP/pins.txt" <<'EOF'
import json, re, sys
from pathlib import Path

name = lambda req: re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", req).group()).lower()
items = {name(i["metadata"]["name"]): i for i in json.load(open(sys.argv[1]))["install"]}
# torch and everything it needs (closure over the resolved set) are on the GPU machine already.
excluded, todo = set(), ["torch"]
while todo:
    n = todo.pop()
    if n in items and n not in excluded:
        excluded.add(n)
        todo += [name(r) for r in items[n]["metadata"].get("requires_dist", []) if "extra ==" not in r]
excluded |= {n for n in items if re.fullmatch(r"triton|nvidia-.*|cuda-.*", n)}
local = {name(p.name.split("-")[0]) for p in Path(sys.argv[2]).glob("*.whl")}
print("left out (torch's own):", " ".join(sorted(excluded)), file=sys.stderr)
for n, item in sorted(items.items()):
    if n not in excluded and n not in local:
        print(f"{item['metadata']['name']}=={item['metadata']['version']}")
EOF

"$PY" -m pip download -q --no-deps "${TARGET[@]}" -d "$DEST" -r "$TMP/pins.txt" -r "$TMP/build.txt"

DATA=${SEQVAE_DATA:-../shared/data}/ptb
if [ -f "$DATA/ptb.train.txt" ]; then
    mkdir -p "$DEST/data/ptb"
    cp "$DATA"/ptb.{train,valid,test}.txt "$DEST/data/ptb/"
else
    echo "WARNING: no PTB at $DATA (set SEQVAE_DATA); the GPU machine must then find it another way" >&2
fi
echo "python $PYVER, manylinux_2_${GLIBC_MINOR:-28}_x86_64 and older" > "$DEST/BUILT_FOR"

echo
du -k "$DEST"/*.whl | sort -rn | awk '{printf "%8.1f MiB  %s\n", $1 / 1024, $2}'
tree_kib=$(git ls-files -co --exclude-standard -z | du -ck --files0-from=- | tail -1 | cut -f1)
dest_kib=$(du -sk "$DEST" | cut -f1)
total_mib=$(( (tree_kib + dest_kib) / 1024 ))
echo "$DEST: $((dest_kib / 1024)) MiB; with the working tree ($((tree_kib / 1024)) MiB): $total_mib MiB of the 64 MiB."
if [ "$total_mib" -ge 64 ]; then
    echo "TOO LARGE for the device tool: leave more out with SKIP (see the top of this script)." >&2
    exit 1
fi
