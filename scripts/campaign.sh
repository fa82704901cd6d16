#!/usr/bin/env bash
# The convergence campaign (scale=cpu), resumable: run it again after any stop and finished runs are reused, the
# unfinished ones resume from their last.ckpt.
#
#   nohup bash scripts/campaign.sh > /work/runs/campaign.log 2>&1 &
#
# Runs live in $SEQVAE_RUNS (default /work/runs, outside the work tree), two at a time on one thread each (1.17x the
# tokens/s of one run on two threads on this 2-core machine: conf/experiment_scale/ptb-table/cpu.yaml). The order:
#   1. two lanes side by side, one run each: ptb-table's search (which fixes the R and lambda that the matched rows
#      of the next sweeps take), ptb-transformer, lambda-ablation (about 9 hours) | rate-ablation (about 8: its
#      uniform runs took 10 to 12 minutes each, its first run of the authors' recipe 54), then ptb-baselines until
#      the first lane ends, so that no core waits;
#   2. ptb-table's seeds and test evaluation, two runs at a time;
#   3. what is left of rate-ablation and ptb-baselines (Lagging last: its aggressive epochs take hours).
# rate-ablation's AWD row takes the lambda that ptb-table's search chose among its AWD candidates, all finished since
# 2026-11-30 04:30 UTC, so it does not wait for the search's last run (the authors' recipe, which no sweep matches).
# The second lane is stopped with SIGTERM, which makes its run save last.ckpt; step 3 resumes it.
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
rm -f "$stop"
{ sweep ptb-table 1 hydra.sweeper.stop_after=search; sweep ptb-transformer 1; sweep lambda-ablation 1; } &
first_lane=$!
{ for experiment in rate-ablation ptb-baselines; do [ -e "$stop" ] || sweep "$experiment" 1; done; } &
second_lane=$!
wait "$first_lane"
touch "$stop"
pkill -TERM -P "$second_lane"
wait "$second_lane"
sweep ptb-table 2
sweep rate-ablation 2
sweep ptb-baselines 2
