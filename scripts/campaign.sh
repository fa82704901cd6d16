#!/usr/bin/env bash
# The convergence campaign (scale=cpu), resumable: run it again after any stop and finished runs are reused, the
# unfinished ones resume from their last.ckpt.
#
#   nohup bash scripts/campaign.sh > /work/runs/campaign.log 2>&1 &
#
# Runs live in $SEQVAE_RUNS (default /work/runs, outside the work tree), two at a time on one thread each (1.17x the
# tokens/s of one run on two threads on this 2-core machine: conf/experiment_scale/ptb-table/cpu.yaml). Every 10
# minutes the result files of the finished runs (no checkpoints) are copied into records/ in the work tree, to be
# committed; on a new machine the campaign starts by copying them back, and the sweeps reuse those runs.
#
# The machine that held the first campaign's runs (2026-11-29 to 11-30) was lost with them. Its searches and
# figures are in docs/results.md; this second campaign retrains what still needs test-split numbers, at the choices
# that ptb-table's search made by validation -ELBO then (docs/results/ptb-table-cpu-converged/table.md: uniform
# dropout at R 0.3, AWD at R 0.3 and lambda 1; Adam 1e-3), so that its search stage holds one candidate a method.
# Every session from 2026-12-01 to the afternoon of 2026-12-02 had a new machine without the runs root, so a run had
# to reach its test numbers within one session (about 3 hours); the session of 2026-12-02 18:51 UTC found the previous
# one's machine, runs root and checkpoints included (docs/results.md, "What blocks the rest"). Done so far:
# ptb-table's rows (the VAE, uniform dropout and AWD over 3 seeds, the exact-K control, and the authors' recipe at seed
# 0, alone on both threads: 5.31 hours of training across three sessions on one machine, done 2026-12-03), Skip-VAE's,
# BN-VAE's and the dilated-CNN decoder's 3 seeds, FBP (alone on both threads, 2026-12-02), the Transformer's rows at
# 3 seeds (done 2026-12-03). The order now (finished runs are reused):
#   1. the baselines' seeds (all done);
#   2. the Transformer's seeds 1 and 2 (all done; 0.7 to 1.2 hours of training a run), two at a time on one thread
#      each: runs that fit into one session's machine go before those that do not;
#   3. the authors' recipe's seeds 1 and 2 (ptb-table plans them since 2026-12-03) and its control at seed 0
#      (uniform-exact-authors: uniform dropout of K words on the recipe's decoder, planned since that evening), two
#      at a time on one thread each: 57 epochs took 7.41 hours on one thread beside a second run, so they finish only
#      on a machine kept across sessions;
#   4. Lagging (one seed) in the lane that the recipe's seeds leave free once both are evaluated, beside the control:
#      one aggressive epoch takes hours (about 8 at the rate of a benchmark on the loaded machine).
set -uo pipefail
cd "$(dirname "$0")/.."
export SEQVAE_RUNS=${SEQVAE_RUNS:-/work/runs} SEQVAE_DATA=${SEQVAE_DATA:-/work/shared/data} OMP_NUM_THREADS=1
# glibc keeps freed memory instead of unmapping and faulting it in again every step: 1.09-1.12x the tokens/s of AWD on
# PTB (docs/performance.md, "Memory allocator"); the results do not change.
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456
SEQVAE=${SEQVAE:-.venv/bin/seqvae}
mkdir -p "$SEQVAE_RUNS"
"$SEQVAE" keep-results records "$SEQVAE_RUNS"
{ while sleep 600; do "$SEQVAE" keep-results "$SEQVAE_RUNS" records; done; } &
keeper=$!

# ptb-table's search of 2026-11-30 chose these (its grid stays in conf/experiment_scale/ptb-table/cpu.yaml).
CHOSEN="hydra.sweeper.method_grid={uniform:{dropout.rate:'0.3'},awd:{dropout.rate:'0.3',dropout.lam:'1'}}"

# sweep EXPERIMENT JOBS [OVERRIDE...]
sweep() {
    echo "=== $(date -u +%FT%TZ) seqvae sweep experiment=$1 scale=cpu ${*:3}"
    "$SEQVAE" sweep "experiment=$1" scale=cpu hydra/launcher=joblib "hydra.launcher.n_jobs=$2" \
        train.progress_bar=false "${@:3}"
    local status=$?
    echo "=== $(date -u +%FT%TZ) experiment=$1 ${*:3}: exit status $status"
}

# sweep_entry JOBS "EXPERIMENT [OVERRIDE...]": one sweep written as one string (split on spaces, no globbing).
sweep_entry() {
    local words
    read -ra words <<< "$2"
    sweep "${words[0]}" "$1" "${words[@]:1}"
}

# Naming FBP keeps its row in sweep.json.
baseline_seeds="ptb-baselines hydra.sweeper.methods=[skip-vae,bn-vae,cnn-vae,fbp]"
for entry in "$baseline_seeds" ptb-transformer; do sweep_entry 2 "$entry"; done

# evaluated RUN...: whether every run folder (under $SEQVAE_RUNS) holds its test evaluation.
evaluated() {
    local run
    for run; do [[ -f "$SEQVAE_RUNS/$run/eval-test.json" ]] || return 1; done
}

# ptb-table's last batch is three runs in two lanes: the recipe's seeds 1 and 2, then its control alone. Lagging, the
# one run left in ptb-baselines, takes the second lane as soon as both seeds are evaluated (or the sweep has ended).
sweep_entry 2 "ptb-table $CHOSEN" &
table=$!
while kill -0 "$table" 2>/dev/null && ! evaluated ptb-table-cpu/awd-authors/optim.lr=0.001/seed={1,2}; do
    sleep 300
done
sweep_entry 2 ptb-baselines
wait "$table"
kill "$keeper"
"$SEQVAE" keep-results "$SEQVAE_RUNS" records
