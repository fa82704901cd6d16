"""Aggressive inference-network training (He et al. 2019, "Lagging Inference Networks and Posterior Collapse in
Variational Autoencoders", ICLR: their Algorithm 1 and the stopping rules of their code).

While *aggressive mode* is on, each training batch is preceded by an inner loop that updates only the encoder
(``model.encoder.*``) on the ELBO loss, each inner step on a fresh training batch, until the encoder's objective
stops improving: the loss per token of the last ``train.aggressive_check_every`` inner steps (15 in their code) is
compared with that of the ones before, and the loop stops when it is not lower, or after
``train.aggressive_max_inner`` steps (100). Then the batch takes one update of the decoder side alone: everything of
the VAE but the encoder (the decoder, its embeddings, the mask embedding and an AWD adversary, whose gradient
comes through the reconstruction). Aggressive mode ends for good after a validation whose mutual information
(``val/mi``, of the averaged weights this project validates) did not rise over the previous one's, the first
compared with 0 as in their code; then training is the joint update of :class:`VAETask`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader

from seqvae.data.batching import Batch
from seqvae.data.datamodule import sentence_loader
from seqvae.training import logged
from seqvae.training.task import VAETask

# The inner loop's batch order is that of seed ``seed + INNER_SEED_OFFSET``: never the outer order of this run.
INNER_SEED_OFFSET = 1_000_003
CHECKPOINT_KEY = "aggressive"


def steps_until_plateau(step: Callable[[], tuple[float, int]], max_steps: int, check_every: int) -> int:
    """Call ``step`` (one update; it returns its summed loss and its token count) until the loss per token of the
    last ``check_every`` calls is not below that of the ``check_every`` before them, or ``max_steps`` calls; the
    number of calls."""
    previous, loss, tokens = float("inf"), 0.0, 0
    for n in range(1, max_steps + 1):
        step_loss, step_tokens = step()
        loss, tokens = loss + step_loss, tokens + step_tokens
        if n % check_every == 0:
            if loss / tokens >= previous:
                return n
            previous, loss, tokens = loss / tokens, 0.0, 0
    return max_steps


def shuffled_batches(loader: DataLoader, start: int = 0) -> Iterator[Batch]:
    """The batches of a shuffled :func:`sentence_loader`, pass after pass, from the ``start``-th on: pass ``p`` is
    its order of epoch ``p``, so the stream resumes from the count of batches drawn. Read from its batch sampler, not
    through a DataLoader iterator, whose creation draws from torch's global generator (a step's randomness)."""
    batches = loader.batch_sampler
    epoch, skip = divmod(start, len(batches))
    while True:
        batches.sampler.set_epoch(epoch)
        batches.resume(epoch, skip)
        for indices in batches:
            yield loader.collate_fn([loader.dataset[i] for i in indices])
        epoch, skip = epoch + 1, 0


class AggressiveVAETask(VAETask):
    """:class:`VAETask` with aggressive inference-network training (this module's docstring) while it is on.

    Lightning's automatic optimisation stays: the inner loop runs in :meth:`on_train_batch_start`, on the raw
    optimiser, and the batch's own step is decoder-only by dropping the encoder's gradients before clipping. So
    ``global_step`` counts batches (outer iterations), as in every other method, and the KL weight
    ``anneal.beta(global_step)`` of a batch (its inner steps share it), free bits, clipping at ``optim.grad_clip``
    (of the part being updated), the per-epoch lr decay and checkpointing are those of :class:`VAETask`. Their
    code's SGD with lr 1.0 is replaced by the run's optimiser (``optim.name``, ``optim.lr``), so every method of a
    table shares one: the encoder and decoder sides are stepped separately by giving only one side gradients (a
    torch optimiser skips parameters without one, so each side's momenta and step counts advance with its own
    updates, as with two optimisers). Inner batches come from an independent shuffled pass over the training set
    (their code draws them at random; its first inner step uses the outer batch), and all randomness derives from
    the seed and step, so a resumed run continues exactly: the mode, the previous MI and the count of inner
    batches drawn are saved in checkpoints. Inner steps run outside Lightning's precision plugin (no autocast,
    no gradient scaler), and on one device only.
    """

    def __init__(self, config: dict, vocab_words: list[str]):
        super().__init__(config, vocab_words)
        self.aggressive = True
        self.previous_mi = 0.0
        self.inner_drawn = 0
        self._inner: Iterator[Batch] | None = None

    def on_fit_start(self) -> None:
        if self.trainer.world_size > 1:
            raise ValueError("train.aggressive trains on one device; set train.devices=1")

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        t = self.cfg.train
        plateau = (self.encoder_step, t.aggressive_max_inner, t.aggressive_check_every)
        inner = steps_until_plateau(*plateau) if self.aggressive else 0
        n = batch.lengths.numel()
        self.log(logged.TRAIN_AGGRESSIVE, float(self.aggressive), on_step=True, on_epoch=False, batch_size=n)
        self.log(logged.TRAIN_INNER_STEPS, float(inner), on_step=True, on_epoch=True, batch_size=n)

    def encoder_step(self) -> tuple[float, int]:
        """One update of the encoder alone on a fresh training batch; its summed loss and token count."""
        batch = self.transfer_batch_to_device(self.next_inner_batch(), self.device, 0)
        out = self.model(batch.tokens, batch.lengths)
        loss = self.training_loss(out)
        self.check_finite(loss, out)
        optimizer = self.optimizers(use_pl_optimizer=False)
        optimizer.zero_grad()
        encoder = list(self.model.encoder.parameters())
        for param, grad in zip(encoder, torch.autograd.grad(loss, encoder), strict=True):
            param.grad = grad
        torch.nn.utils.clip_grad_norm_(encoder, self.cfg.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        return loss.item() * batch.lengths.numel(), batch.num_tokens

    def next_inner_batch(self) -> Batch:
        """The next batch of the inner loop's stream (:func:`shuffled_batches`), on the CPU."""
        if self._inner is None:
            data = self.trainer.datamodule
            loader = sentence_loader(
                data.split("train"), data.vocab, data.cfg.batch_size, shuffle=True, seed=data.seed + INNER_SEED_OFFSET
            )
            self._inner = shuffled_batches(loader, self.inner_drawn)
        self.inner_drawn += 1
        return next(self._inner)

    def on_before_optimizer_step(self, optimizer) -> None:
        super().on_before_optimizer_step(optimizer)
        if self.aggressive:
            for param in self.model.encoder.parameters():
                param.grad = None

    def on_validation_epoch_end(self) -> None:
        self.val_mi = None
        super().on_validation_epoch_end()
        if self.aggressive and not self.trainer.sanity_checking and self.val_mi is not None:
            self.aggressive = self.val_mi > self.previous_mi
            self.previous_mi = self.val_mi

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[CHECKPOINT_KEY] = {"on": self.aggressive, "previous_mi": self.previous_mi, "drawn": self.inner_drawn}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint[CHECKPOINT_KEY]
        self.aggressive, self.previous_mi, self.inner_drawn = state["on"], state["previous_mi"], state["drawn"]
        self._inner = None
