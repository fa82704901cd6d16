"""Differentiable top-k masks and gradient reversal.

The adversary keeps the ``n_keep = T - K`` largest scores of each sentence. The forward pass
returns that hard 0/1 mask; the backward pass is the gradient of the relaxed top-k of
Paulus et al. (2020), the Euclidean projection of ``s / tau`` onto the capped simplex
``{y in [0, 1]^T : sum(y) = n_keep}``, i.e. ``y = clip(s / tau - nu, 0, 1)`` with the shift
``nu`` found by bisection (SPEC section 2).
"""

from __future__ import annotations

import torch

_BISECTION_STEPS = 60


def hard_topk_mask(scores: torch.Tensor, n_keep: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """0/1 mask keeping the ``n_keep[b]`` largest valid scores of each row.

    Args:
        scores: ``(B, T)`` scores.
        n_keep: ``(B,)`` integer number of positions to keep per row.
        valid: ``(B, T)`` bool, False on padding (never kept, never counted).

    Returns:
        ``(B, T)`` float mask with exactly ``n_keep[b]`` ones in row ``b``, all on valid positions.
    """
    masked = scores.masked_fill(~valid, float("-inf"))
    ranks = masked.argsort(dim=1, descending=True).argsort(dim=1)
    return ((ranks < n_keep.unsqueeze(1)) & valid).to(scores.dtype)


def project_capped_simplex(
    x: torch.Tensor, n_keep: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean projection of each row of ``x`` onto ``{y in [0,1]^T : sum(y) = n_keep}``.

    Only valid positions take part; padding gets ``y = 0``. Solved by bisection on the shift
    ``nu`` in ``y = clip(x - nu, 0, 1)``, whose sum is non-increasing in ``nu``.

    Args:
        x: ``(B, T)`` points to project (``s / tau``).
        n_keep: ``(B,)`` target sums, ``0 <= n_keep[b] <= number of valid positions``.
        valid: ``(B, T)`` bool.

    Returns:
        ``y`` of shape ``(B, T)`` and the shift ``nu`` of shape ``(B,)``.
    """
    big = torch.finfo(x.dtype).max / 4
    lo = x.masked_fill(~valid, big).amin(dim=1) - 1.0
    hi = x.masked_fill(~valid, -big).amax(dim=1)
    target = n_keep.to(x.dtype)
    for _ in range(_BISECTION_STEPS):
        nu = (lo + hi) / 2
        total = ((x - nu.unsqueeze(1)).clamp(0, 1) * valid).sum(dim=1)
        too_big = total > target
        lo = torch.where(too_big, nu, lo)
        hi = torch.where(too_big, hi, nu)
    nu = (lo + hi) / 2
    y = (x - nu.unsqueeze(1)).clamp(0, 1) * valid
    return y, nu


class _StraightThroughTopK(torch.autograd.Function):
    """Forward: hard top-k mask. Backward: Jacobian of the capped-simplex projection of ``s / tau``."""

    @staticmethod
    def forward(ctx, scores, n_keep, valid, tau):
        x = scores / tau
        y, _ = project_capped_simplex(x, n_keep, valid)
        free = (y > 0) & (y < 1) & valid
        ctx.save_for_backward(free)
        ctx.tau = tau
        return hard_topk_mask(scores, n_keep, valid)

    @staticmethod
    def backward(ctx, grad_mask):
        (free,) = ctx.saved_tensors
        # On the free set F: dy_i/dx_j = delta_ij - 1/|F|; elsewhere y is locally constant.
        free_f = free.to(grad_mask.dtype)
        n_free = free_f.sum(dim=1, keepdim=True).clamp_min(1.0)
        mean_free = (grad_mask * free_f).sum(dim=1, keepdim=True) / n_free
        grad_scores = free_f * (grad_mask - mean_free) / ctx.tau
        return grad_scores, None, None, None


def straight_through_topk(scores: torch.Tensor, n_keep: torch.Tensor, valid: torch.Tensor, tau: float) -> torch.Tensor:
    """Hard keep-mask of the ``n_keep`` largest scores with the relaxed projection's gradient.

    Args:
        scores: ``(B, T)`` adversary scores ``s``.
        n_keep: ``(B,)`` number of positions to keep, ``T_b - K_b``.
        valid: ``(B, T)`` bool, False on padding.
        tau: relaxation temperature (> 0).

    Returns:
        ``(B, T)`` float 0/1 mask (1 = keep).
    """
    return _StraightThroughTopK.apply(scores, n_keep, valid, tau)


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def reverse_gradient(x: torch.Tensor) -> torch.Tensor:
    """Identity forward, negated gradient backward (Ganin et al. 2016)."""
    return _GradientReversal.apply(x)
