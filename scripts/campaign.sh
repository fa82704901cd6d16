#!/usr/bin/env bash
# The convergence campaign (scale=cpu), one sweep after another, resumable: run it again after any stop and
# finished runs are reused, the unfinished one resumes from its last.ckpt.
#
#   nohup bash scripts/campaign.sh > /work/runs/campaign.log 2>&1 &
#
# Runs live in $SEQVAE_RUNS (default /work/runs, outside the work tree). Two runs side by side on one thread each
# (1.17x the tokens/s of one run on two threads on this 2-core machine: conf/experiment_scale/ptb-table/cpu.yaml).
set -uo pipefail
cd "$(dirname "$0")/.."
export SEQVAE_RUNS=${SEQVAE_RUNS:-/work/runs} SEQVAE_DATA=${SEQVAE_DATA:-/work/shared/data} OMP_NUM_THREADS=1
SEQVAE=${SEQVAE:-.venv/bin/seqvae}
mkdir -p "$SEQVAE_RUNS"
for experiment in ${EXPERIMENTS:-ptb-table lambda-ablation rate-ablation ptb-transformer ptb-baselines}; do
    echo "=== $(date -u +%FT%TZ) seqvae sweep experiment=$experiment scale=cpu"
    "$SEQVAE" sweep "experiment=$experiment" scale=cpu hydra/launcher=joblib hydra.launcher.n_jobs=2 \
        train.progress_bar=false
    echo "=== $(date -u +%FT%TZ) exit status $?"
done
