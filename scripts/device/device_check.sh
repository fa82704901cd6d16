#!/usr/bin/env bash
# The one command of a GPU session, in the repository root: bash scripts/device/device_check.sh
#
#   (a) python, torch and CUDA, and nvidia-smi (stops here without CUDA, unless DEVICE=cpu);
#   (b) installs the project (editable, --no-deps) and whatever it lacks of its dependencies from the carried
#       wheels/ (made by scripts/device/build_device_wheels.sh on a machine with PyPI); torch is never touched. Without
#       an install, PYTHONPATH=src; PTB comes from $SEQVAE_DATA, ../shared/data or wheels/data;
#   (c) pytest -m gpu;
#   (d) benchmarks/engine_table.py on CUDA: every row in fp32 (the compiled double-lstm included), then the fused
#       double-lstm in bf16-mixed and in fp32 with TF32 matrix products;
#   (e) the elapsed time, the failed stages and the tables.
# Each stage runs under `timeout`; the limits add up to 480 s (8 min). The log, the tables (.md) and their
# JSON go to $OUT if set (the device tool brings back what is there), else to /tmp/seqvae-device-check.
# With the device tool: run(command="bash scripts/device/device_check.sh", carry=["wheels"], timeout_s=540).
# Settings: STEPS (timed training steps per row, 30), WARMUP (5), PYTHON (python3), TABLE_ARGS (more
# engine_table.py options for every table). A rehearsal on a machine without a GPU, tiny and in seconds:
#   DEVICE=cpu TABLE_ARGS="--emb 32 --hidden 64 --iw-samples 4 --iw-sentences 8" STEPS=2 WARMUP=1 \
#       bash scripts/device/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

export PY=${PYTHON:-python3} DEVICE=${DEVICE:-cuda} PYTHONUNBUFFERED=1 PIP_ROOT_USER_ACTION=ignore \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RESULTS=${OUT:-/tmp/seqvae-device-check}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
read -ra TABLE_ARGS <<< "${TABLE_ARGS:-}"
mkdir -p "$RESULTS"

environment() {
    "$PY" --version
    "$PY" - <<'EOF'
import os, sys, torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, CUDA available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"{p.name}: {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
elif os.environ["DEVICE"] == "cuda":
    sys.exit(3)
EOF
    local rc=$?
    nvidia-smi || echo "(nvidia-smi failed)"
    return "$rc"
}

install() {
    if [ -f wheels/BUILT_FOR ]; then
        echo "wheels/ built for $(cat wheels/BUILT_FOR); here: $("$PY" --version)"
    else
        echo "no wheels/ (see scripts/device/build_device_wheels.sh): only what is installed here can be used"
    fi
    "$PY" -m pip install -q --no-index --find-links wheels --no-deps -e . ||
        "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e . ||
        echo "the editable install failed: PYTHONPATH=src will do"
    [ -f wheels/requirements.txt ] || return 0
    if ! "$PY" -m pip install -q --no-index --find-links wheels -r wheels/requirements.txt; then
        echo "pip could not satisfy wheels/requirements.txt: installing the carried wheels of what is missing, no deps"
        local missing=() w
        for w in wheels/*.whl; do
            "$PY" -m pip show -q "$(basename "$w" | cut -d- -f1)" > /dev/null 2>&1 || missing+=("$w")
        done
        [ ${#missing[@]} -eq 0 ] || "$PY" -m pip install -q --no-index --no-deps "${missing[@]}"
    fi
}

export -f environment install

main() {
    local start=$SECONDS failed=() name
    stage() {  # stage NAME LIMIT_S COMMAND...: COMMAND under timeout; a failure is noted, not fatal
        local name=$1 limit=$2 rc
        shift 2
        echo "=== $name (limit $limit s, at $((SECONDS - start)) s)" >&2
        timeout -k 5 "$limit" "$@"
        rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "!!! $name: $([ "$rc" -eq 124 ] && echo "timed out after $limit s" || echo "exit status $rc")" >&2
            failed+=("$name")
        fi
        return "$rc"
    }
    table() {  # table NAME LIMIT_S ARGS...: engine_table.py, its markdown and JSON to $RESULTS
        local name=$1 limit=$2
        shift 2
        stage "engine table, $name" "$limit" "$PY" benchmarks/engine_table.py --device "$DEVICE" --steps "$STEPS" \
            --warmup "$WARMUP" --json "$RESULTS/engine_$name.json" "${TABLE_ARGS[@]}" "$@" > "$RESULTS/engine_$name.md"
    }

    stage environment 20 bash -c environment || { echo "no usable CUDA: stopping"; return 1; }
    stage install 45 bash -c install
    if ! "$PY" -c "import seqvae.config" 2> /dev/null; then
        export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
    fi
    stage imports 20 "$PY" -c "import hydra, lightning, seqvae.training.task as t; print('seqvae from', t.__file__)" ||
        { echo "the project does not import: stopping"; return 1; }
    if [ -z "${SEQVAE_DATA:-}" ] && [ ! -f ../shared/data/ptb/ptb.train.txt ] && [ -f wheels/data/ptb/ptb.train.txt ]
    then
        export SEQVAE_DATA=$PWD/wheels/data
    fi
    echo "PTB from ${SEQVAE_DATA:-../shared/data}/ptb"

    stage "gpu tests" 110 "$PY" -m pytest -m gpu -q -rs --continue-on-collection-errors -p no:cacheprovider
    table fp32 200
    table bf16 40 --decoders double-lstm --precision bf16-mixed
    table tf32 45 --decoders double-lstm --matmul-precision high

    for name in fp32 bf16 tf32; do
        echo
        echo "### $name"
        cat "$RESULTS/engine_$name.md"
    done
    echo
    echo "elapsed: $((SECONDS - start)) s; failed stages: ${failed[*]:-none}"
    [ ${#failed[@]} -eq 0 ]
}

main 2>&1 | tee "$RESULTS/device_check.log"
