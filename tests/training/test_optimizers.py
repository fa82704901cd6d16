"""The adversary's own optimiser and lr (dropout.adv_optim / dropout.adv_lr) and the combined optimiser."""

import copy
import csv

import lightning as L
import pytest
import torch
from conftest import tiny_config

from seqvae.config import Config
from seqvae.data.vocab import SPECIALS
from seqvae.optimizers import CombinedOptimizer, build_optimizer
from seqvae.training.run import fit
from seqvae.training.task import VAETask

ADVERSARY = "model.dropout.adversary."


def config(corpus_dir, optim: dict, dropout: dict, **train) -> Config:
    """:func:`tiny_config` with some ``optim`` and ``dropout`` keys overridden."""
    values = tiny_config(corpus_dir, **train).to_dict()
    values["optim"].update(optim)
    values["dropout"].update(dropout)
    return Config.from_dict(values)


def assert_equal_nested(a, b) -> None:
    """Equal nested dicts / lists of tensors and plain values."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_equal_nested(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_equal_nested(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


class FirstStep(L.Callback):
    """The optimiser, parameters before and after a step, the gradient norm before clipping and the gradients used.

    Lightning zeroes gradients inside the next step's closure, so at batch end they are the clipped ones.
    """

    def on_train_batch_start(self, trainer, task, batch, batch_idx):
        self.before = {k: p.detach().clone() for k, p in task.named_parameters()}

    def on_before_optimizer_step(self, trainer, task, optimizer):
        self.raw_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in task.parameters()]))

    def on_train_batch_end(self, trainer, task, outputs, batch, batch_idx):
        self.optimizer = trainer.optimizers[0]
        self.after = {k: p.detach().clone() for k, p in task.named_parameters()}
        self.grad = {k: p.grad.clone() for k, p in task.named_parameters()}


@pytest.mark.slow
def test_adam_adversary_and_sgd_vae_each_take_their_own_step_on_clipped_gradients(small_corpus, tmp_path):
    lr, adv_lr, clip = 0.5, 0.01, 0.1
    optim = {"name": "sgd", "lr": lr, "grad_clip": clip}
    cfg = config(small_corpus, optim, {"adv_optim": "adam", "adv_lr": adv_lr}, max_steps=1)
    step = FirstStep()
    assert fit(cfg, tmp_path / "run", [step])["global_step"] == 1
    assert isinstance(step.optimizer, CombinedOptimizer)
    used_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in step.grad.values()]))
    assert step.raw_norm > 10 * clip and used_norm == pytest.approx(clip, rel=1e-4), "one norm over all parameters"
    adversary = [k for k in step.grad if k.startswith(ADVERSARY)]
    assert adversary and len(adversary) < len(step.grad)
    for key, g in step.grad.items():
        before, after = step.before[key], step.after[key]
        # Equal up to float32 rounding (of the weights: rtol; of the update: atol, 1e-5 of Adam's).
        if key in adversary:
            # Adam's first step, bias-corrected: m / sqrt(v) = g / |g|, so each weight moves by adv_lr against g.
            assert torch.allclose(after, before - adv_lr * g / (g.abs() + 1e-8), rtol=1e-6, atol=1e-7), key
            moved = (after - before)[g.abs() > 1e-6].abs()  # |g| >= 100 eps: |update| = adv_lr within 1%
            assert moved.numel() and torch.allclose(moved, torch.tensor(adv_lr), rtol=1e-2), key
        else:
            assert torch.allclose(after, before - lr * g, rtol=1e-6, atol=1e-7), key


class EpochLrs(L.Callback):
    """Each epoch's optimiser and group lrs at its start, and the adversary's parameters."""

    def __init__(self):
        self.lrs = []

    def on_train_epoch_start(self, trainer, task):
        self.optimizer = trainer.optimizers[0]
        self.adversary = {id(p) for p in task.model.dropout.adversary.parameters()}
        self.lrs.append([group["lr"] for group in self.optimizer.param_groups])


@pytest.mark.slow
def test_adv_lr_alone_gives_the_adversary_its_own_decaying_param_group(small_corpus, tmp_path):
    lr, adv_lr = 0.003, 0.01
    epochs = EpochLrs()
    short = {"limit_train_batches": 0.2, "log_every_n_steps": 1}  # 2 steps per epoch
    fit(config(small_corpus, {"lr": lr, "lr_decay": 0.5}, {"adv_lr": adv_lr}, **short), tmp_path / "run", [epochs])
    assert type(epochs.optimizer) is torch.optim.Adam
    vae, adv = epochs.optimizer.param_groups
    assert {id(p) for p in adv["params"]} == epochs.adversary and not epochs.adversary & {id(p) for p in vae["params"]}
    assert epochs.lrs == [pytest.approx([lr, adv_lr]), pytest.approx([lr / 2, adv_lr / 2])]
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "version_0" / "metrics.csv")))
    logged = sorted({(float(r["train/lr"]), float(r["train/adv_lr"])) for r in rows if r.get("train/adv_lr")})
    assert logged == [pytest.approx((lr / 2, adv_lr / 2)), pytest.approx((lr, adv_lr))]


def test_optimiser_choice_follows_the_config():
    vae, adv = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    params = [*vae.parameters(), *adv.parameters()]
    single = build_optimizer("sgd", 1.0, params)
    assert type(single) is torch.optim.SGD and len(single.param_groups) == 1
    same = build_optimizer("adam", 0.1, params, list(adv.parameters()), "adam")
    assert type(same) is torch.optim.Adam and [g["lr"] for g in same.param_groups] == [0.1, 0.1]
    combined = build_optimizer("sgd", 1.0, params, list(adv.parameters()), "adam", 0.01)
    assert [type(o) for o in combined.optimizers] == [torch.optim.SGD, torch.optim.Adam]
    assert combined.param_groups == [g for o in combined.optimizers for g in o.param_groups]
    assert combined.param_groups[-1]["params"] == list(adv.parameters())


def test_combined_optimizer_state_dict_round_trips_and_resumes_the_same_trajectory():
    torch.manual_seed(0)
    nets = torch.nn.ModuleList([torch.nn.Linear(4, 3), torch.nn.Linear(4, 2)])
    data = [torch.randn(8, 4) for _ in range(6)]

    def optimizer(modules):
        return build_optimizer("sgd", 0.1, modules.parameters(), list(modules[1].parameters()), "adam", 0.01)

    def train(modules, opt, batches):
        for x in batches:
            opt.zero_grad()
            sum(m(x).pow(2).sum() for m in modules).backward()
            opt.step()

    opt = optimizer(nets)
    train(nets, opt, data[:3])
    resumed_nets = copy.deepcopy(nets)
    resumed = optimizer(resumed_nets)
    resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert_equal_nested(resumed.state_dict(), opt.state_dict())
    assert resumed.optimizers[1].param_groups[0] is resumed.param_groups[1], "scheduler lr changes reach Adam"
    assert resumed.optimizers[1].state is resumed.state
    assert all("exp_avg_sq" in resumed.state.get(p, {}) for p in resumed_nets[1].parameters()), "Adam moments restored"
    train(nets, opt, data[3:])
    train(resumed_nets, resumed, data[3:])
    assert all(torch.equal(a, b) for a, b in zip(nets.parameters(), resumed_nets.parameters(), strict=True))


@pytest.mark.slow
def test_run_with_combined_optimizer_resumes_as_if_uninterrupted(small_corpus, tmp_path):
    def cfg(**train):
        optim, dropout = {"name": "sgd", "lr": 0.5}, {"adv_optim": "adam", "adv_lr": 0.01}
        return config(small_corpus, optim, dropout, limit_train_batches=0.3, **train)  # 3 steps per epoch

    whole = fit(cfg(), tmp_path / "whole")
    fit(cfg(max_epochs=1), tmp_path / "split")
    resumed = fit(cfg(), tmp_path / "split")
    assert resumed["global_step"] == whole["global_step"] == 6
    a, b = (torch.load(s["last_checkpoint"], weights_only=False) for s in (whole, resumed))
    assert len(a["optimizer_states"][0]["param_groups"]) == 2
    for key in ("state_dict", "current_model_state", "optimizer_states", "lr_schedulers"):
        assert_equal_nested(a[key], b[key])


@pytest.mark.parametrize(("adv_optim", "schedule"), [(None, "constant"), ("adam", "constant"), ("adam", "decay")])
def test_a_constant_schedule_keeps_the_adversary_lr_while_the_vae_lr_decays(adv_optim, schedule):
    values = tiny_config("unused").to_dict()
    values["optim"].update({"name": "sgd", "lr": 1.0, "lr_decay": 0.5})
    values["dropout"].update({"adv_optim": adv_optim, "adv_lr": 0.1, "adv_lr_schedule": schedule})
    task = VAETask(Config.from_dict(values).to_dict(), [*SPECIALS, "a", "b"])
    setup = task.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(3):
        lrs.append([group["lr"] for group in optimizer.param_groups])
        scheduler.step()
    adversary = [0.1, 0.1, 0.1] if schedule == "constant" else [0.1, 0.05, 0.025]
    expected = [[vae, adv] for vae, adv in zip([1.0, 0.5, 0.25], adversary, strict=True)]
    assert lrs == [pytest.approx(row) for row in expected]
    assert {id(p) for p in optimizer.param_groups[-1]["params"]} == {
        id(p) for p in task.model.dropout.adversary.parameters()
    }
