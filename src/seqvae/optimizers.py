"""Optimisers of a run: the VAE's, and the adversary's own where the config gives it one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch.optim import Optimizer

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
# The adversary's lr: decayed per epoch with the VAE's, or kept constant (the original AWD code's).
ADV_LR_SCHEDULES = ("decay", "constant")


class CombinedOptimizer(Optimizer):
    """Several optimisers over disjoint parameter sets, stepped together as one.

    Lightning's automatic optimisation takes one step of one optimiser per batch (so ``global_step`` counts
    batches); this lets that step update e.g. the VAE with SGD and the adversary with Adam, as the original
    AWD code did. ``param_groups`` holds the inner optimisers' own group dicts, in order, so an lr scheduler
    decays every group's lr, gradient clipping takes the norm over all parameters, and lr logging sees each
    group. The inner optimisers share this optimiser's ``state`` (their parameters are disjoint), so the
    standard ``state_dict`` covers them all; :meth:`load_state_dict` re-links them to the loaded groups.
    """

    def __init__(self, optimizers: Sequence[Optimizer]):
        self.optimizers = list(optimizers)
        super().__init__([group for opt in self.optimizers for group in opt.param_groups], defaults={})
        for opt in self.optimizers:
            self.state.update(opt.state)
        self._link()

    def _link(self) -> None:
        """Point each inner optimiser at its slice of ``param_groups`` and at the shared ``state``."""
        start = 0
        for opt in self.optimizers:
            end = start + len(opt.param_groups)
            opt.param_groups = self.param_groups[start:end]
            opt.state = self.state
            start = end

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Evaluate ``closure`` (forward, backward, clipping) once, then step every inner optimiser."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers:
            opt.step()
        return loss

    def load_state_dict(self, state_dict: dict) -> None:
        """The standard load (it replaces ``param_groups`` and ``state``), then re-link the inner optimisers."""
        super().load_state_dict(state_dict)
        self._link()


def build_optimizer(
    name: str,
    lr: float,
    params: Iterable[torch.nn.Parameter],
    adversary: Sequence[torch.nn.Parameter] = (),
    adv_name: str | None = None,
    adv_lr: float | None = None,
) -> Optimizer:
    """Optimiser ``name`` with ``lr`` over ``params``; the ``adversary`` parameters among them, if any, get
    ``adv_name`` and/or ``adv_lr`` (``None``: the VAE's).

    Same type: one optimiser with two parameter groups; different types: a :class:`CombinedOptimizer`.
    The adversary's group is always the last one.
    """
    if not adversary:
        return OPTIMIZERS[name](params, lr=lr)
    adv_ids = {id(p) for p in adversary}
    vae = [p for p in params if id(p) not in adv_ids]
    adv_name, adv_lr = adv_name or name, adv_lr or lr
    if adv_name == name:
        return OPTIMIZERS[name]([{"params": vae}, {"params": list(adversary), "lr": adv_lr}], lr=lr)
    return CombinedOptimizer([OPTIMIZERS[name](vae, lr=lr), OPTIMIZERS[adv_name](adversary, lr=adv_lr)])
