"""The Lightning module: one optimiser step trains the VAE and, through gradient reversal, the adversary."""

from __future__ import annotations

import functools

import lightning as L
import torch
from torchmetrics.aggregation import SumMetric

from seqvae.config import Config
from seqvae.data.batching import Batch
from seqvae.data.vocab import Vocabulary
from seqvae.metrics.active_units import active_units
from seqvae.metrics.mutual_info import mutual_information_estimates
from seqvae.models.dropout import AdversarialWordDropout
from seqvae.models.vae import SequenceVAE, VAEOutput
from seqvae.optimizers import build_optimizer
from seqvae.training import logged


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class VAETask(L.LightningModule):
    """Trains a :class:`SequenceVAE` on its loss, ``mean_b[rec + beta * KL + R_psi]`` (:meth:`VAEOutput.loss`).

    Validation uses no dropout and, through the EMA callback, the averaged weights; it reports
    per-sentence ``rec``, ``kl``, ``nelbo`` (= rec + kl, beta = 1) and ``ppl_elbo``, and over the whole
    split (gathered from all devices) the mutual information ``mi`` and ``mi_factorised`` and the active
    units ``au``, so a run's curves show collapse as it happens.

    Args:
        config: the run config as a plain dict (saved in checkpoints).
        vocab_words: the vocabulary's words in id order (saved in checkpoints).
    """

    def __init__(self, config: dict, vocab_words: list[str]):
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg = Config.from_dict(config)
        self.vocab = Vocabulary(vocab_words)
        self.model = SequenceVAE.from_config(self.cfg, len(self.vocab), self.vocab.pad_id, self.vocab.unk_id)
        self.val_sums = torch.nn.ModuleDict({k: SumMetric() for k in ("rec", "kl", "sentences", "tokens")})
        self.val_posteriors: list[torch.Tensor] = []
        self.val_mi: float | None = None  # the last validation's joint MI estimate (val/mi); None before one

    @property
    def uses_awd(self) -> bool:
        return isinstance(self.model.dropout, AdversarialWordDropout)

    @property
    def separate_adversary(self) -> bool:
        """Whether the adversary has its own optimiser, lr or lr schedule (``dropout.adv_optim``, ``adv_lr``,
        ``adv_lr_schedule``)."""
        d = self.cfg.dropout
        own = d.adv_optim is not None or d.adv_lr is not None or d.adv_lr_schedule != "decay"
        return self.uses_awd and own

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        # Randomness of a step depends only on (seed, step): a resumed run draws what it would have.
        torch.manual_seed(self.cfg.seed * 1_000_003 + self.global_step)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        out = self.model(batch.tokens, batch.lengths)
        beta = self.cfg.anneal.beta(self.global_step)
        loss = self.training_loss(out)
        self.check_finite(loss, out)
        n = batch.lengths.numel()
        log = dict(on_step=True, on_epoch=True, batch_size=n)
        self.log(logged.TRAIN_LOSS, loss, prog_bar=True, **log)
        self.log(logged.TRAIN_REC, out.rec.mean(), **log)
        self.log(logged.TRAIN_KL, out.kl.mean(), prog_bar=True, **log)
        self.log(logged.TRAIN_NELBO, (out.rec + out.kl).mean(), **log)
        self.log(logged.TRAIN_BETA, beta, on_step=True, on_epoch=False, batch_size=n)
        groups = self.optimizers().param_groups
        self.log(logged.TRAIN_LR, groups[0]["lr"], on_step=True, on_epoch=False, batch_size=n)
        if self.separate_adversary:
            self.log(logged.TRAIN_ADV_LR, groups[-1]["lr"], on_step=True, on_epoch=False, batch_size=n)
        for name, value in out.stats.items():
            self.log(logged.AWD_DIAGNOSTICS[name], value, **log)
        if self.uses_awd:
            self.log(logged.TRAIN_REGULARISER, out.regulariser.mean(), **log)
        return loss

    def training_loss(self, out: VAEOutput) -> torch.Tensor:
        """:meth:`VAEOutput.loss` at this step's KL weight, with the run's free bits."""
        a = self.cfg.anneal
        return out.loss(a.beta(self.global_step), a.free_bits, a.free_bits_over)

    def check_finite(self, loss: torch.Tensor, out: VAEOutput) -> None:
        """Raise :class:`NonFiniteLossError` if the training ``loss`` is NaN or infinite, before it is stepped on."""
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite training loss at step {self.global_step} (rec={out.rec.mean().item():.4g}, "
                f"kl={out.kl.mean().item():.4g}); checkpoints written so far are intact. "
                "Lower optim.lr or check the data, then rerun to resume from the last checkpoint."
            )

    def on_before_optimizer_step(self, optimizer) -> None:
        if self.uses_awd:
            grads = [p.grad for p in self.model.dropout.adversary.parameters() if p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])) if grads else 0.0
            self.log(logged.ADV_GRAD_NORM, norm, on_step=True, on_epoch=True)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        out = self.model(batch.tokens, batch.lengths)
        self.val_sums["rec"].update(out.rec.sum())
        self.val_sums["kl"].update(out.kl.sum())
        self.val_sums["sentences"].update(batch.lengths.numel())
        self.val_sums["tokens"].update(batch.num_tokens)
        self.val_posteriors.append(torch.stack([out.mu, out.logvar], dim=1))

    def on_validation_epoch_end(self) -> None:
        sums = {k: m.compute() for k, m in self.val_sums.items()}
        for m in self.val_sums.values():
            m.reset()
        rec, kl = sums["rec"] / sums["sentences"], sums["kl"] / sums["sentences"]
        self.log(logged.VAL_REC, rec)
        self.log(logged.VAL_KL, kl)
        self.log(logged.VAL_NELBO, rec + kl, prog_bar=True)
        self.log(logged.VAL_PPL_ELBO, torch.exp((sums["rec"] + sums["kl"]) / sums["tokens"]), prog_bar=True)
        posteriors = torch.cat(self.val_posteriors)
        self.val_posteriors.clear()
        if self.trainer.world_size > 1:
            # Every rank holds as many sentences (the distributed sampler pads), so the shapes match.
            posteriors = self.all_gather(posteriors).flatten(0, 1)
        mu, logvar = posteriors.unbind(dim=1)
        if mu.size(0) >= 2:
            mi = mutual_information_estimates(mu, logvar)
            self.val_mi = mi.joint
            self.log(logged.VAL_MI, mi.joint, rank_zero_only=True)
            self.log(logged.VAL_MI_FACTORISED, mi.factorised, rank_zero_only=True)
            self.log(logged.VAL_AU, float(active_units(mu).count), rank_zero_only=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vocab"] = self.vocab.words

    def configure_optimizers(self):
        """``optim.name`` over all parameters, the adversary's with its own optimiser or lr if configured
        (:func:`build_optimizer`); every group's lr decays by ``optim.lr_decay`` per epoch, except the adversary's
        with ``dropout.adv_lr_schedule=constant`` (the original AWD code's)."""
        o, d = self.cfg.optim, self.cfg.dropout
        adversary = list(self.model.dropout.adversary.parameters()) if self.separate_adversary else []
        optimizer = build_optimizer(o.name, o.lr, self.parameters(), adversary, d.adv_optim, d.adv_lr)
        if adversary and d.adv_lr_schedule == "constant":
            vae_groups = len(optimizer.param_groups) - 1  # the adversary's group is the last
            factors = [functools.partial(pow, o.lr_decay)] * vae_groups + [functools.partial(pow, 1.0)]
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
        else:
            scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=o.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
