"""FBP (Li et al. 2019): an autoencoder stage, then the VAE from its encoder with a fresh decoder."""

import json
import shutil

import lightning as L
import pytest
import torch
from conftest import tiny_config

from seqvae.checkpoint import load_checkpoint
from seqvae.config import Config, compose_config
from seqvae.training.run import PRETRAIN_DIR, autoencoder_stage, fit
from seqvae.training.run_folders import LOST


class FirstWeights(L.Callback):
    """The model's weights when training starts."""

    def on_train_start(self, trainer, pl_module):
        self.weights = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def fbp_config(corpus, **train) -> Config:
    cfg = tiny_config(corpus, method="none", max_epochs=1, pretrain_autoencoder=True, **train)
    return Config.from_dict({**cfg.to_dict(), "anneal": {"steps": 20, "free_bits": 0.1, "free_bits_over": "sentence"}})


def test_the_autoencoder_stage_has_no_kl_weight_no_free_bits_and_its_own_folder(tmp_path):
    cfg = fbp_config(tmp_path)
    stage = autoencoder_stage(cfg, tmp_path / "run")
    assert stage.anneal.kind == "zero" and stage.anneal.free_bits == 0 and not stage.train.pretrain_autoencoder
    assert stage.out_dir == str(tmp_path / "run" / PRETRAIN_DIR)
    assert (stage.model, stage.optim, stage.data, stage.seed) == (cfg.model, cfg.optim, cfg.data, cfg.seed)


@pytest.mark.slow
def test_fbp_runs_both_stages_and_starts_the_vae_from_the_pretrained_encoder(small_corpus, tmp_path):
    cfg = fbp_config(small_corpus)
    out = tmp_path / "run"
    first = FirstWeights()
    summary = fit(cfg, out, [first])

    stage = json.loads((out / PRETRAIN_DIR / "summary.json").read_text())
    assert stage["finished"] and "best_val_rec" in stage and "best_val_nelbo" not in stage
    metrics = (out / PRETRAIN_DIR / "logs" / "version_0" / "metrics.csv").read_text().splitlines()
    beta = metrics[0].split(",").index("train/beta")
    assert {float(row.split(",")[beta]) for row in metrics[1:] if row.split(",")[beta]} == {0.0}

    pretrained = load_checkpoint(stage["best_checkpoint"]).model.state_dict()
    plain = FirstWeights()
    fit(tiny_config(small_corpus, method="none", max_epochs=1, max_steps=1), tmp_path / "plain", [plain])
    for name, value in first.weights.items():
        if name.startswith("encoder."):
            assert torch.equal(value, pretrained[name]), name
        else:
            assert torch.equal(value, plain.weights[name]), f"{name} is not initialised as without pretraining"
    assert summary["finished"] and "best_val_nelbo" in summary

    again = fit(cfg, out)
    assert again == summary, "a finished FBP run is reused, both stages"


def test_the_fbp_method_composes():
    cfg = compose_config(["method=fbp"])
    assert cfg.train.pretrain_autoencoder and cfg.anneal.free_bits == 0.25 and cfg.anneal.free_bits_over == "sentence"
    assert cfg.dropout.method == "none"
    with pytest.raises(ValueError, match="anneal.free_bits_over must be one of"):
        compose_config(["anneal.free_bits_over=dimension"])


def test_an_autoencoder_stage_that_never_validated_hands_on_its_last_checkpoint(small_corpus, tmp_path):
    cfg = tiny_config(small_corpus, method="none", max_epochs=1, max_steps=3, pretrain_autoencoder=True)
    first = FirstWeights()
    fit(cfg, tmp_path / "run", [first])
    last = load_checkpoint(tmp_path / "run" / PRETRAIN_DIR / "checkpoints" / "last.ckpt").model.state_dict()
    assert all(torch.equal(v, last[k]) for k, v in first.weights.items() if k.startswith("encoder."))


def test_a_finished_autoencoder_stage_is_reused_where_its_folder_is_now(small_corpus, tmp_path):
    cfg = tiny_config(small_corpus, method="none", max_epochs=1, max_steps=3, pretrain_autoencoder=True)
    fit(autoencoder_stage(cfg, tmp_path / "trained"), tmp_path / "trained" / PRETRAIN_DIR)
    shutil.move(tmp_path / "trained", tmp_path / "moved")
    first = FirstWeights()
    fit(cfg, tmp_path / "moved", [first])
    stage = load_checkpoint(tmp_path / "moved" / PRETRAIN_DIR / "checkpoints" / "last.ckpt").model.state_dict()
    assert all(torch.equal(v, stage[k]) for k, v in first.weights.items() if k.startswith("encoder."))
    assert not list((tmp_path / "moved" / PRETRAIN_DIR).glob(LOST + "*")), "the moved stage is not trained again"


def test_a_finished_autoencoder_stage_whose_checkpoints_are_gone_is_set_aside_and_fitted_again(small_corpus, tmp_path):
    cfg = tiny_config(small_corpus, method="none", max_epochs=1, max_steps=3, pretrain_autoencoder=True)
    stage_dir = tmp_path / "run" / PRETRAIN_DIR
    fit(autoencoder_stage(cfg, tmp_path / "run"), stage_dir)
    shutil.rmtree(stage_dir / "checkpoints")  # what `seqvae keep-results` keeps of it, on a new machine
    first = FirstWeights()
    summary = fit(cfg, tmp_path / "run", [first])
    assert summary["finished"]
    assert (stage_dir / f"{LOST}1" / "summary.json").is_file() and not (stage_dir / f"{LOST}1" / "checkpoints").exists()
    stage = load_checkpoint(stage_dir / "checkpoints" / "last.ckpt").model.state_dict()
    assert all(torch.equal(v, stage[k]) for k, v in first.weights.items() if k.startswith("encoder."))
