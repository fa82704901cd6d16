"""The ``seqvae`` command end to end, and clear errors for bad input."""

import json

import pytest
from conftest import tiny_config

from seqvae.cli import main
from seqvae.config import Config
from seqvae.data import CorpusError
from seqvae.training.run import fit

TINY = [
    "model.emb_dim=16",
    "model.enc_hidden=32",
    "model.dec_hidden=32",
    "model.z_dim=8",
    "dropout.adv_emb_dim=16",
    "dropout.adv_hidden_dim=16",
    "train.max_epochs=1",
    "train.progress_bar=false",
]


@pytest.mark.slow
def test_train_evaluate_sample_reconstruct(small_corpus, tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", f"out_dir={out}", f"data.dir={small_corpus}", "method=uniform", "dropout.exact_k=true", *TINY])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["global_step"] == 10
    config = json.loads((out / "config.json").read_text())
    assert config["dropout"]["method"] == "uniform" and config["dropout"]["exact_k"] is True
    assert (out / "logs" / "version_0" / "metrics.csv").is_file()

    ckpt = summary["best_checkpoint"]
    main(["evaluate", ckpt, "--split", "test", "--samples", "4", "--out", str(tmp_path / "eval.json")])
    result = json.loads((tmp_path / "eval.json").read_text())
    figures = {name: fig["value"] for name, fig in result["metrics"].items()}
    assert result["metrics"]["nelbo"]["sentences"] == 64 and result["eos_counted"] is True
    assert figures["nelbo"] == pytest.approx(figures["rec"] + figures["kl"])

    capsys.readouterr()
    for decoding in (["--decoding", "greedy"], ["--top-p", "0.9", "--top-k", "20"], ["--decoding", "beam"]):
        main(["sample", ckpt, "-n", "3", *decoding])
        assert len(capsys.readouterr().out.strip().splitlines()) == 3
    main(["reconstruct", ckpt, "we loved the pasta .", "the team lost the game ."])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "we loved the pasta ." and lines[1].startswith("  -> ")
    main(["reconstruct", ckpt, "we loved the pasta .", "--decoding", "beam", "--beam-width", "3"])
    assert capsys.readouterr().out.strip().splitlines()[1].startswith("  -> ")


def test_unknown_method_name_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["train", "method=dropconnect"])
    assert "Could not find 'method/dropconnect'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown dropout.method 'dropconnect'"):
        Config.from_dict({"dropout": {"method": "dropconnect"}})


@pytest.mark.parametrize("rate", [1.0, -0.2, 3])
def test_rate_outside_unit_interval_is_a_clear_error(rate):
    with pytest.raises(ValueError, match=r"dropout.rate \(R\) must be in \[0, 1\)"):
        Config.from_dict({"dropout": {"rate": rate}})


def test_invalid_hyperparameters_name_the_key():
    with pytest.raises(ValueError, match="optim.lr must be > 0"):
        Config.from_dict({"optim": {"lr": 0}})
    with pytest.raises(ValueError, match="model.decoder"):
        Config.from_dict({"model": {"decoder": "gru"}})


def test_missing_corpus_file_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="corpus file not found: .*train.txt"):
        fit(tiny_config(tmp_path / "nowhere"), tmp_path / "run")


def test_empty_corpus_is_a_clear_error(small_corpus, tmp_path):
    (small_corpus / "train.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no sentences"):
        fit(tiny_config(small_corpus), tmp_path / "run")


def test_a_run_folder_is_named_after_its_method_preset():
    from seqvae.config import compose_config

    folders = {m: compose_config([f"method={m}", "seed=2"]).out_dir for m in ("none", "bn-vae", "lagging", "awd")}
    assert folders == {m: f"runs/embedded-{m}-seed2" for m in folders}
    assert compose_config(["corpus=ptb", "out_dir=elsewhere"]).out_dir == "elsewhere"
