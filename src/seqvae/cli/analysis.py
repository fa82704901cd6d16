"""Analyses of a trained model: ``probe``, ``saliency``, ``pos-saliency``, ``drop-profile``, ``interpolate``."""

from __future__ import annotations

import torch

from seqvae.cli.arguments import (
    SPLIT_CHOICES,
    Parser,
    add_decoding_arguments,
    analysis_arguments,
    check_outputs,
    count,
    decoding_of,
    device,
    load,
    read_sentences,
)


def probe(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from seqvae.analysis.probe import probe_report

    p = Parser(
        prog="seqvae probe",
        description="Logistic-regression probes on posterior means: fitted on one split, scored on another. Labels: "
        "<split>.labels.tsv beside the corpus files (the embedded corpus's factors), a labelled corpus, or --labels.",
    )
    p.add_argument("checkpoint")
    p.add_argument("--fit-split", default="train", choices=SPLIT_CHOICES)
    p.add_argument("--score-split", default="test", choices=SPLIT_CHOICES)
    p.add_argument("--labels", nargs=2, metavar=("FIT_TSV", "SCORE_TSV"), help="label TSVs (header row) of both splits")
    p.add_argument("--factors", nargs="+", help="label columns to probe (default: all)")
    p.add_argument("--max-fit", type=count(2), default=None, help="fit on the first N sentences only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    a = p.parse_args(argv)
    check_outputs(files=(a.out,))
    fit_labels, score_labels = a.labels or (None, None)
    results = probe_report(
        load(a.checkpoint),
        a.out,
        fit_split=a.fit_split,
        score_split=a.score_split,
        fit_labels=fit_labels,
        score_labels=score_labels,
        factors=a.factors,
        max_fit=a.max_fit,
        seed=a.seed,
    )
    table = Table(title=f"probes on posterior means: fit on {a.fit_split}, scored on {a.score_split}")
    for column in ("factor", "accuracy", "majority", "chance", "classes", "fit", "scored"):
        table.add_column(column, justify="left" if column == "factor" else "right")
    for r in results:
        cells = (f"{r.accuracy:.3f}", f"{r.majority:.3f}", f"{r.chance:.3f}", str(len(r.classes)))
        table.add_row(r.factor, *cells, str(r.n_fit), str(r.n_scored))
    Console().print(table)


def saliency(argv: list[str]) -> None:
    from seqvae.analysis.saliency import bracketed, saliency_report

    p = Parser(prog="seqvae saliency", description="Which words an AWD checkpoint's adversary drops.")
    p.add_argument("checkpoint")
    p.add_argument("file", nargs="?", help="tokenised sentences, one per line (default: sentences of --split)")
    p.add_argument("-n", "--num", type=count(1), help="first N sentences (default: all of FILE, 20 of --split)")
    p.add_argument("--split", default="valid", choices=SPLIT_CHOICES)
    p.add_argument("--html", default=None, help="write the self-contained page here")
    p.add_argument("--json", default=None, help="write all numbers here")
    p.add_argument("--samples", type=count(1), default=1000, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.html is None and a.json is None:
        p.error("give --html and/or --json")
    check_outputs(files=(a.html, a.json))
    n = a.num if a.num is not None or a.file else 20
    data = saliency_report(load(a.checkpoint), a.file, a.split, n, a.samples, a.seed, a.html, a.json)
    for sentence in data["sentences"]:
        print(bracketed(sentence))


def pos_saliency(argv: list[str]) -> None:
    from seqvae.analysis.pos_saliency import pos_saliency_report, spacy_tagger

    p = analysis_arguments(
        "seqvae pos-saliency", "Mean adversary score and drop probability per universal POS tag.", 1000
    )
    a = p.parse_args(argv)
    check_outputs(folders=(a.out,))
    tagger = spacy_tagger()
    rows = pos_saliency_report(load(a.checkpoint), a.out, a.split, a.num, a.samples, a.seed, tagger)
    print(f"{'tag':6s} {'count':>7s} {'normalised':>10s} {'P(drop)':>8s}")
    for row in rows:
        print(f"{row.tag:6s} {row.count:7d} {row.mean_normalised:+10.3f} {row.mean_drop_prob:8.3f}")


def drop_profile(argv: list[str]) -> None:
    from seqvae.analysis.drop_profile import drop_profile_report

    p = analysis_arguments(
        "seqvae drop-profile",
        "AWD's mean drop probability by relative position and by training-word frequency, against uniform "
        "exact-K dropout's K/T.",
        200,
    )
    a = p.parse_args(argv)
    check_outputs(folders=(a.out,))
    rows = drop_profile_report(load(a.checkpoint), a.out, a.split, a.num, a.samples, a.seed)
    print(f"{'kind':10s} {'group':14s} {'positions':>9s} {'AWD':>6s} {'uniform':>7s} {'ratio':>6s}")
    for r in rows:
        awd, uniform = r.awd_drop_prob, r.uniform_drop_prob
        print(f"{r.kind:10s} {r.group:14s} {r.positions:9d} {awd:6.3f} {uniform:7.3f} {r.ratio:6.2f}")


def interpolate(argv: list[str]) -> None:
    from seqvae.analysis.interpolation import interpolate
    from seqvae.analysis.interpolation_curves import choose_pairs, curve_rows, interpolation_report
    from seqvae.analysis.similarity import BertScoreF1

    p = Parser(
        prog="seqvae interpolate",
        description="Decode points between two posterior means (Table 3); with --out, score them against both ends "
        "with BERTScore F1 and plot the curves averaged over pairs (Figure 4b).",
    )
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="source and target, tokenised")
    p.add_argument("--steps", type=count(2), default=10, help="points K on the line, both ends included")
    p.add_argument("--seed", type=int, default=0, help="seeds sampled decoding and --random-pairs")
    p.add_argument("--pairs", help="file of 'source<TAB>target' lines")
    p.add_argument("--random-pairs", type=count(1), metavar="N", help="N random pairs of sentences of --split")
    p.add_argument("--split", default="valid", choices=SPLIT_CHOICES)
    p.add_argument("--out", help="folder for interpolation.json, .csv, .png and .svg")
    p.add_argument("--model", help="BERTScore model name or folder (default: the packaged, offline all-MiniLM-L6-v2)")
    p.add_argument("--num-layers", type=count(1), help="BERTScore layer (for a --model without a bert-score default)")
    p.add_argument("--rescale", action="store_true", help="rescale BERTScore with a baseline (see --baseline-path)")
    p.add_argument("--baseline-path", help="bert-score baseline file for --rescale")
    p.add_argument("--device", default="auto")
    add_decoding_arguments(p, "greedy")
    a = p.parse_args(argv)
    decoding = decoding_of(a)
    if a.sentences and len(a.sentences) != 2 or sum(map(bool, (a.sentences, a.pairs, a.random_pairs))) != 1:
        p.error("give SOURCE TARGET, --pairs FILE or --random-pairs N")
    if a.out is None and not a.sentences:
        p.error("--pairs and --random-pairs need --out DIR")
    check_outputs(folders=(a.out,))
    on = device(a.device)
    trained = load(a.checkpoint, on)
    if a.sentences:
        read_sentences(trained, a.sentences)
    pairs, origin = choose_pairs(trained, a.sentences, a.pairs, a.random_pairs, a.split, a.seed)
    if a.out is None:
        torch.manual_seed(a.seed)
        it = interpolate(trained.model, trained.vocab, *pairs[0], a.steps, decoding)
        for t, sentence in zip(it.t.tolist(), it.sentences, strict=True):
            print(f"{t:.2f}  {' '.join(sentence)}")
        return
    scorer = BertScoreF1(a.model, a.num_layers, a.rescale, a.baseline_path, str(on))
    result = interpolation_report(
        trained, pairs, a.steps, scorer, a.out, decoding, a.seed, checkpoint=a.checkpoint, pairs_from=origin
    )
    if len(pairs) == 1:
        pair = result["pairs"][0]
        rows = zip(result["t"], pair["sentences"], pair["f1_source"], pair["f1_target"], strict=True)
        for t, sentence, fs, ft in rows:
            print(f"{t:.2f}  F1 {fs:.3f} / {ft:.3f}  {sentence}")
    print(f"{result['similarity']['metric']} to source / target, mean ± std over {result['num_pairs']} pair(s):")
    for _, t, src_mean, src_std, tgt_mean, tgt_std, _ in curve_rows(result):
        print(f"{t:.2f}  {src_mean:.3f} ± {src_std:.3f} / {tgt_mean:.3f} ± {tgt_std:.3f}")
    print(f"source to target: {result['mean_f1_ends']:.3f}; distinct sentences per pair: {result['mean_distinct']:.1f}")
    print(f"wrote interpolation.json, .csv, .png and .svg to {a.out}")
