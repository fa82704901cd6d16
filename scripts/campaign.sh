#!/usr/bin/env bash
# The convergence campaign (scale=cpu), resumable: run it again after any stop and finished runs are reused, the
# unfinished ones resume from their last.ckpt.
#
#   nohup bash scripts/campaign.sh > /work/runs/campaign.log 2>&1 &
#
# Runs live in $SEQVAE_RUNS (default /work/runs, outside the work tree), two at a time on one thread each (1.17x the
# tokens/s of one run on two threads on this 2-core machine: conf/experiment_scale/ptb-table/cpu.yaml). The order:
#   1. two lanes side by side, one run each: ptb-table whole (its search's last run, the authors' recipe, then its
#      seeds and test evaluation: about 20 hours) | rate-ablation, lambda-ablation, ptb-transformer, ptb-baselines
#      (about 25), so that the main table comes first and no core waits;
#   2. when the first lane ends, what is left of the second, two runs at a time.
# The matched rows (rate-ablation's and ptb-transformer's R and lambda) take ptb-table's choices among uniform and
# AWD, whose searches finished on 2026-11-30, so the second lane does not wait for the first.
# The second lane is stopped with SIGTERM, which makes its run save last.ckpt; step 2 resumes it.
set -uo pipefail
cd "$(dirname "$0")/.."
export SEQVAE_RUNS=${SEQVAE_RUNS:-/work/runs} SEQVAE_DATA=${SEQVAE_DATA:-/work/shared/data} OMP_NUM_THREADS=1
# glibc keeps freed memory instead of unmapping and faulting it in again every step: 1.09-1.12x the tokens/s of AWD on
# PTB (docs/performance.md, "Memory allocator"); the results do not change.
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456
SEQVAE=${SEQVAE:-.venv/bin/seqvae}
mkdir -p "$SEQVAE_RUNS"

# sweep EXPERIMENT JOBS [OVERRIDE...]
sweep() {
    echo "=== $(date -u +%FT%TZ) seqvae sweep experiment=$1 scale=cpu ${*:3}"
    "$SEQVAE" sweep "experiment=$1" scale=cpu hydra/launcher=joblib "hydra.launcher.n_jobs=$2" \
        train.progress_bar=false "${@:3}"
    local status=$?
    echo "=== $(date -u +%FT%TZ) experiment=$1 ${*:3}: exit status $status"
}

stop="$SEQVAE_RUNS/.campaign-second-lane-stop"
second=(rate-ablation lambda-ablation ptb-transformer ptb-baselines)
rm -f "$stop"
sweep ptb-table 1 &
first_lane=$!
{ for experiment in "${second[@]}"; do [ -e "$stop" ] || sweep "$experiment" 1; done; } &
second_lane=$!
wait "$first_lane"
touch "$stop"
pkill -TERM -P "$second_lane"
wait "$second_lane"
for experiment in "${second[@]}"; do sweep "$experiment" 2; done
