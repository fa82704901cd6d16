"""Autoregressive decoders p(x|z) (SPEC section 1; the Transformer in :mod:`seqvae.models.transformer`).

The decoders read input embeddings (already masked by the word dropout) and a latent ``z``
and return next-word logits. Each offers a teacher-forced ``forward`` over the whole
sequence (``hidden_states`` then the output layer, which a caller can apply to the real
positions only) and a one-step ``step`` for generation; both compute the same function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from seqvae.models.cnn import DilatedCNNDecoder
from seqvae.models.skip import LatentSkip
from seqvae.models.transformer import TransformerDecoder

State = tuple[torch.Tensor, torch.Tensor]


class _LatentInitDecoder(nn.Module):
    """Shared parts: the initial state from ``z`` (``h_0 = W z + b``, ``c_0 = 0``), the output layer and, with
    ``skip_z``, Skip-VAE's latent skip into it (:class:`seqvae.models.skip.LatentSkip`, parameters ``skip.*``
    only then)."""

    def __init__(self, hidden_dim: int, z_dim: int, vocab_size: int, skip_z: bool = False):
        super().__init__()
        self.init_h = nn.Linear(z_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, vocab_size)
        self.skip = LatentSkip(hidden_dim, z_dim) if skip_z else None

    def top_states(self, hidden: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """What the output layer reads: the cell output ``hidden (B, [L,] H)``, or with the skip ``W [h, z] + b``."""
        return hidden if self.skip is None else self.skip(hidden, z)

    def init_state(self, z: torch.Tensor) -> State:
        """Initial ``(h, c)``, each ``(B, H)``."""
        h = self.init_h(z)
        return h, torch.zeros_like(h)

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``."""
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, V)``."""
        return self.output(self.hidden_states(inputs, z))


class LSTMDecoder(_LatentInitDecoder):
    """Standard LSTM decoder (Bowman et al. 2016): ``h_0 = W z + b``, ``c_0 = 0``, input ``[e(x_{i-1}), z]``.

    Args:
        emb_dim: input embedding size.
        hidden_dim: LSTM hidden size.
        z_dim: latent size.
        vocab_size: output vocabulary size.
        skip_z: Skip-VAE (Dieng et al. 2019): the output layer reads ``[h, z]`` (``z`` already enters every
            input of the one layer).
    """

    def __init__(self, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int, skip_z: bool = False):
        super().__init__(hidden_dim, z_dim, vocab_size, skip_z)
        self.lstm = nn.LSTM(emb_dim + z_dim, hidden_dim, batch_first=True)

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``."""
        h, c = self.init_state(z)
        x = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.size(1), -1)], dim=-1)
        out, _ = self.lstm(x, (h.unsqueeze(0), c.unsqueeze(0)))
        return self.top_states(out, z)

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: ``inp (B, E)`` -> logits ``(B, V)`` and the next state."""
        h, c = state
        out, (h, c) = self.lstm(torch.cat([inp, z], dim=-1).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return self.output(self.top_states(out.squeeze(1), z)), (h.squeeze(0), c.squeeze(0))


class DoubleLSTMDecoder(_LatentInitDecoder):
    """The paper's decoder: per step, a *predict* cell on ``z`` then an *update* cell on ``[e(x_{i-1}), z]``.

    ``(h, c) <- predict(z, (h, c))``; ``(h, c) <- update([e(x_{i-1}), z], (h, c))``; ``h`` predicts
    ``x_i``. ``z`` thus reaches every step through a skip path (after Dieng et al. 2019).
    ``h_0 = W z + b``, ``c_0 = 0``.

    The original AWD code's variant (AUTHORS_CODE.md row 4): in training, inverted dropout of rate
    ``state_dropout`` on ``h`` and on ``c`` after each update cell, and with ``update_cells=2`` a second update
    cell ``update2`` whose input is the first's dropped-out ``h`` and whose state is its dropped-out ``(h, c)``:
    ``(h, c) <- update2(h, (h, c))``, then dropout again. The final ``(h, c)`` is the carried state and its ``h``
    predicts ``x_i``. From their model file (its ``decode_state``) and data module (its ``decode_observation``):
    the output layer reads the carried state's ``h``, after the second dropout (a dropout there of its own is
    commented out); the second cell's input is the dropped ``h``; ``h`` and ``c`` go through separate
    ``nn.Dropout(0.4)`` calls at every step, so their masks are independent and fresh each step, and drop only
    in training mode. Not told by their code: whether generation drops (their sampler runs the same step in
    whatever mode the module is in; ``step`` here never drops), and whether published runs used the variant
    (their README calls it an idea under test, to be run without the predict cell; it is kept here, as row 4 has it).

    Args:
        emb_dim: input embedding size.
        hidden_dim: cell hidden size.
        z_dim: latent size.
        vocab_size: output vocabulary size.
        update_cells: 1, or 2 for the second update cell ``update2``.
        state_dropout: dropout rate in ``[0, 1)`` on the update cells' ``h`` and ``c`` in training.
        skip_z: Skip-VAE (Dieng et al. 2019): the output layer reads ``[h, z]`` (``z`` already enters both cells).
    """

    def __init__(
        self,
        emb_dim: int,
        hidden_dim: int,
        z_dim: int,
        vocab_size: int,
        update_cells: int = 1,
        state_dropout: float = 0.0,
        skip_z: bool = False,
    ):
        super().__init__(hidden_dim, z_dim, vocab_size, skip_z)
        if update_cells not in (1, 2):
            raise ValueError(f"update_cells must be 1 or 2, got {update_cells}")
        if not 0.0 <= state_dropout < 1.0:
            raise ValueError(f"state_dropout must be in [0, 1), got {state_dropout}")
        self.update_cells = update_cells
        self.state_dropout = state_dropout
        self.predict = nn.LSTMCell(z_dim, hidden_dim)
        self.update = nn.LSTMCell(emb_dim + z_dim, hidden_dim)
        self.update2 = nn.LSTMCell(hidden_dim, hidden_dim) if update_cells == 2 else None

    def state_masks(self, length: int, batch: int) -> torch.Tensor | None:
        """Fresh state-dropout masks ``(update_cells, 2, L, B, H)``: ``[k, 0, t]`` multiplies update cell ``k``'s
        ``h`` at step ``t``, ``[k, 1, t]`` its ``c``; entries ``1 / (1 - p)`` (kept) or 0 (dropped), independent.
        ``None`` (nothing dropped) in evaluation mode or with ``state_dropout = 0``."""
        if not self.training or self.state_dropout == 0:
            return None
        keep = 1.0 - self.state_dropout
        weight = self.update.weight_hh
        shape = (self.update_cells, 2, length, batch, weight.size(1))
        return torch.empty(shape, dtype=weight.dtype, device=weight.device).bernoulli_(keep).div_(keep)

    def _advance(self, inp: torch.Tensor, z: torch.Tensor, state: State, masks: torch.Tensor | None = None) -> State:
        """One step from the carried state; ``masks (update_cells, 2, B, H)`` (or ``None``) drop out the states."""
        state = self.predict(z, state)
        h, c = self.update(torch.cat([inp, z], dim=-1), state)
        if masks is not None:
            h, c = h * masks[0, 0], c * masks[0, 1]
        if self.update2 is not None:
            h, c = self.update2(h, (h, c))
            if masks is not None:
                h, c = h * masks[1, 0], c * masks[1, 1]
        return h, c

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``.

        ``masks``: the state-dropout masks (:meth:`state_masks`'s shape); ``None`` draws them with
        :meth:`state_masks`.
        """
        if masks is None:
            masks = self.state_masks(inputs.size(1), inputs.size(0))
        state = self.init_state(z)
        hidden = []
        for i in range(inputs.size(1)):
            state = self._advance(inputs[:, i], z, state, None if masks is None else masks[:, :, i])
            hidden.append(state[0])
        return self.top_states(torch.stack(hidden, dim=1), z)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, V)``; ``masks`` as in
        :meth:`hidden_states`."""
        return self.output(self.hidden_states(inputs, z, masks))

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step, no state dropout: ``inp (B, E)`` -> logits ``(B, V)`` and the next state."""
        state = self._advance(inp, z, state)
        return self.output(self.top_states(state[0], z)), state


def _lstm_gates(pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input, forget, cell and output gates ``(B, H)`` each from pre-activations ``(B, 4H)`` (torch's order)."""
    i, f, g, o = pre.chunk(4, dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def _lstm_cell_backward(
    dh: torch.Tensor, dc: torch.Tensor, gates: torch.Tensor, c_prev: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of one LSTM cell step: ``(d pre-activations (B, 4H), d c_prev (B, H))``.

    ``gates`` is ``(B, 4H)`` of the activated ``i, f, g, o``; ``c_prev`` and ``c`` the cell states around the step.
    """
    i, f, g, o = gates.chunk(4, dim=1)
    tanh_c = torch.tanh(c)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)
    d_pre = torch.cat(
        [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)], dim=1
    )
    return d_pre, dc * f


def _lstm_cell(pre: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM cell from pre-activations ``(B, 4H)``: activated gates ``(B, 4H)``, next ``c`` and ``h`` ``(B, H)``."""
    i, f, g, o = _lstm_gates(pre)
    c = f * c + i * g
    return torch.cat([i, f, g, o], dim=1), c, o * torch.tanh(c)


def _forward_step(
    update_input: torch.Tensor,
    predict_gates: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    w_predict: torch.Tensor,
    w_update: torch.Tensor,
    w_second: torch.Tensor | None = None,
    b_second: torch.Tensor | None = None,
    masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """One Double-LSTM step from the carried ``(h, c)``: the next carried ``h`` and ``c`` and what the backward
    keeps of the step (:data:`SAVED` after ``h_prev, c_prev``, then :data:`SAVED_SECOND` with ``w_second``).

    ``w_second (4H, H)`` and ``b_second (4H,)``: the second update cell's summed input and recurrent weights and
    biases (its input is its recurrent ``h``); ``masks (update_cells, 2, B, H)``: the state dropout of the step.
    """
    gates_p, c_mid, h_mid = _lstm_cell(torch.addmm(predict_gates, h, w_predict.t()), c)
    gates_u, c_out, h_out = _lstm_cell(torch.addmm(update_input, h_mid, w_update.t()), c_mid)
    kept = (gates_p, c_mid, h_mid, gates_u, c_out)
    if masks is not None:
        h_out, c_next = h_out * masks[0, 0], c_out * masks[0, 1]
    else:
        c_next = c_out
    if w_second is not None:
        gates_2, c_out2, h_out2 = _lstm_cell(torch.addmm(b_second, h_out, w_second.t()), c_next)
        kept += (h_out, c_next, gates_2, c_out2)
        h_out, c_next = h_out2, c_out2
        if masks is not None:
            h_out, c_next = h_out * masks[1, 0], c_next * masks[1, 1]
    return h_out, c_next, kept


def _backward_step(
    d_out: torch.Tensor,
    dh: torch.Tensor,
    dc: torch.Tensor,
    c_prev: torch.Tensor,
    kept: tuple[torch.Tensor, ...],
    w_predict: torch.Tensor,
    w_update: torch.Tensor,
    w_second: torch.Tensor | None = None,
    masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, ...]:
    """One step back from the gradients of the step's output ``h`` and of the carried ``(h, c)``: ``(d update
    pre-activations, d predict pre-activations, d h_prev, d c_prev)``, then the second update cell's d
    pre-activations with ``w_second``. ``kept`` is the step's :func:`_forward_step` third output."""
    gates_p, c_mid, _, gates_u, c_out = kept[:5]
    dh = d_out + dh
    d_second = ()
    if w_second is not None:
        _, c_in2, gates_2, c_out2 = kept[5:]
        if masks is not None:
            dh, dc = dh * masks[1, 0], dc * masks[1, 1]
        d_pre2, dc = _lstm_cell_backward(dh, dc, gates_2, c_in2, c_out2)
        dh, d_second = d_pre2 @ w_second, (d_pre2,)
    if masks is not None:
        dh, dc = dh * masks[0, 0], dc * masks[0, 1]
    d_update, dc = _lstm_cell_backward(dh, dc, gates_u, c_mid, c_out)
    d_predict, dc = _lstm_cell_backward(d_update @ w_update, dc, gates_p, c_prev, c_mid)
    return d_update, d_predict, d_predict @ w_predict, dc, *d_second


@functools.cache
def _compiled_steps() -> tuple[Callable[..., tuple[torch.Tensor, ...]], Callable[..., tuple[torch.Tensor, ...]]]:
    """:func:`_forward_step` and :func:`_backward_step` through ``torch.compile``: the gate arithmetic of a step
    becomes one generated kernel per cell (C++ on the CPU, Triton on CUDA) around the two matrix products. Shapes
    are static at first and dynamic after the first recompile, so a new batch size recompiles once, not each time."""
    return torch.compile(_forward_step, fullgraph=True), torch.compile(_backward_step, fullgraph=True)


#: What :meth:`DoubleLSTMRecurrence.run` keeps of each step for the backward: the state before the step, the
#: predict cell's gates and state, the update cell's gates and cell state (before any state dropout).
SAVED = ("h_prev", "c_prev", "gates_p", "c_mid", "h_mid", "gates_u", "c_out")
#: And with a second update cell: its input ``h`` and ``c`` (the first's, dropped out), its gates and cell state.
SAVED_SECOND = ("h_in2", "c_in2", "gates_2", "c_out2")


class DoubleLSTMRecurrence(torch.autograd.Function):
    """The Double-LSTM recurrence once the input projections are done, with a hand-written backward.

    Forward, per step: ``(h, c) <- LSTM(predict_gates + h W_p^T, c)``, then ``(h, c) <- LSTM(update_inputs[t] +
    h W_u^T, c)``, then, with ``masks``, ``(h, c) <- (h * masks[0, 0, t], c * masks[0, 1, t])``; with
    ``w_second``, ``(h, c) <- LSTM(b_second + h w_second^T, c)`` and its masks ``[1, :, t]``. Backward runs the
    steps in reverse for the state gradients only (two or three ``(B, 4H) x (4H, H)`` products a step) and forms
    the recurrent weights' gradients afterwards, each as one product over all steps, instead of one small product
    per step. With ``compiled``, each step runs through :func:`_compiled_steps`.

    Inputs: ``update_inputs (L, B, 4H)``, ``predict_gates (B, 4H)``, ``h0, c0 (B, H)``, ``w_predict, w_update
    (4H, H)``, ``w_second (4H, H)`` and ``b_second (4H,)`` or ``None`` (the second update cell's summed weights
    and biases), ``masks (update_cells, 2, L, B, H)`` or ``None`` (no gradient), ``compiled`` (bool). Output:
    ``(L, B, H)`` the carried ``h`` at every step.
    """

    @staticmethod
    def run(update_inputs, predict_gates, h0, c0, w_predict, w_update, w_second, b_second, masks, compiled, keep):
        """The forward steps: the outputs ``(L, B, H)`` and, with ``keep``, the per-step tensors the backward
        reads, each stacked over the steps (:data:`SAVED` then, with ``w_second``, :data:`SAVED_SECOND` order);
        ``None`` without (inference keeps nothing)."""
        forward_step = _compiled_steps()[0] if compiled else _forward_step
        # Autograd never sees the steps (the backward is by hand); detached inputs spare the compiled step a
        # variant for each mix of inputs that do and do not require grad.
        tensors = (update_inputs, predict_gates, h0, c0, w_predict, w_update, w_second, b_second, masks)
        update_inputs, predict_gates, h, c, w_predict, w_update, w_second, b_second, masks = (
            None if x is None else x.detach() for x in tensors
        )
        saved = [[] for _ in SAVED + (SAVED_SECOND if w_second is not None else ())]
        outputs = []
        for t in range(update_inputs.size(0)):
            step_masks = None if masks is None else masks[:, :, t]
            h_next, c_next, kept = forward_step(
                update_inputs[t], predict_gates, h, c, w_predict, w_update, w_second, b_second, step_masks
            )
            if keep:
                for store, value in zip(saved, (h, c, *kept), strict=True):
                    store.append(value)
            h, c = h_next, c_next
            outputs.append(h)
        return torch.stack(outputs), [torch.stack(store) for store in saved] if keep else None

    @staticmethod
    def forward(ctx, update_inputs, predict_gates, h0, c0, w_predict, w_update, w_second, b_second, masks, compiled):
        ctx.compiled = compiled
        outputs, saved = DoubleLSTMRecurrence.run(
            update_inputs, predict_gates, h0, c0, w_predict, w_update, w_second, b_second, masks, compiled, keep=True
        )
        ctx.save_for_backward(w_predict, w_update, w_second, masks, *saved)
        return outputs

    @staticmethod
    def backward(ctx, d_outputs):
        w_predict, w_update, w_second, masks, h_prev, c_prev, *kept = ctx.saved_tensors
        backward_step = _compiled_steps()[1] if ctx.compiled else _backward_step
        dh = torch.zeros_like(h_prev[0])
        dc = torch.zeros_like(c_prev[0])
        d_update = torch.empty_like(kept[3])
        d_predict = torch.empty_like(kept[0])
        d_second = torch.empty_like(kept[7]) if w_second is not None else None
        for t in reversed(range(d_outputs.size(0))):
            step_masks = None if masks is None else masks[:, :, t]
            step = backward_step(
                d_outputs[t], dh, dc, c_prev[t], tuple(k[t] for k in kept), w_predict, w_update, w_second, step_masks
            )
            d_update[t], d_predict[t], dh, dc = step[:4]
            if d_second is not None:
                d_second[t] = step[4]
        hidden = w_update.size(1)
        dw_update = d_update.flatten(0, 1).t() @ kept[2].reshape(-1, hidden)
        dw_predict = d_predict.flatten(0, 1).t() @ h_prev.reshape(-1, hidden)
        dw_second = db_second = None
        if d_second is not None:
            dw_second = d_second.flatten(0, 1).t() @ kept[5].reshape(-1, hidden)
            db_second = d_second.sum(dim=(0, 1))
        return d_update, d_predict.sum(dim=0), dh, dc, dw_predict, dw_update, dw_second, db_second, None, None


class FusedDoubleLSTMDecoder(DoubleLSTMDecoder):
    """:class:`DoubleLSTMDecoder` with a fused teacher-forced pass; same parameters, same function.

    The input projections leave the loop: the predict cell's input ``z`` is the same at every step, so its
    projection is computed once, and the update cell's ``[e(x_{i-1}), z]`` projection is one matrix product
    over all positions. A step is then the recurrent products and the gate arithmetic
    (:class:`DoubleLSTMRecurrence`), compiled with ``compile_steps``. The second update cell's input is its own
    recurrent ``h``, so it runs as one product with its two weights summed. ``step`` (generation) is the
    reference's.
    """

    def __init__(
        self,
        emb_dim: int,
        hidden_dim: int,
        z_dim: int,
        vocab_size: int,
        compile_steps: bool = False,
        update_cells: int = 1,
        state_dropout: float = 0.0,
        skip_z: bool = False,
    ):
        super().__init__(emb_dim, hidden_dim, z_dim, vocab_size, update_cells, state_dropout, skip_z)
        self.compile_steps = compile_steps

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``; ``masks`` as in
        :meth:`DoubleLSTMDecoder.hidden_states`."""
        if masks is None:
            masks = self.state_masks(inputs.size(1), inputs.size(0))
        h, c = self.init_state(z)
        p, u, u2 = self.predict, self.update, self.update2
        emb_dim = inputs.size(-1)
        predict_gates = torch.addmm(p.bias_ih + p.bias_hh, z, p.weight_ih.t())
        z_gates = torch.addmm(u.bias_ih + u.bias_hh, z, u.weight_ih[:, emb_dim:].t())
        update_inputs = torch.matmul(inputs.transpose(0, 1), u.weight_ih[:, :emb_dim].t()) + z_gates
        # The hand-written backward runs in the weights' dtype: under autocast (bf16-mixed) the recurrence stays
        # in float32, the projections around it do not.
        dtype = u.weight_hh.dtype
        states = (x.to(dtype) for x in (update_inputs, predict_gates, h, c))
        masks = masks.to(dtype) if masks is not None else None
        with torch.autocast(inputs.device.type, enabled=False):
            second = (u2.weight_ih + u2.weight_hh, u2.bias_ih + u2.bias_hh) if u2 is not None else (None, None)
            args = (*states, p.weight_hh, u.weight_hh, *second, masks, self.compile_steps)
            if torch.is_grad_enabled():
                hidden = DoubleLSTMRecurrence.apply(*args)
            else:  # evaluation (e.g. the IW-NLL's many samples): no per-step tensors kept for a backward
                hidden = DoubleLSTMRecurrence.run(*args, keep=False)[0]
        return self.top_states(hidden.transpose(0, 1), z)


DECODERS = {
    "lstm": LSTMDecoder,
    "double-lstm": FusedDoubleLSTMDecoder,
    "double-lstm-reference": DoubleLSTMDecoder,
    "transformer": TransformerDecoder,
    "cnn": DilatedCNNDecoder,
}
_DOUBLE_LSTM_OPTIONS = {"update_cells": "update_cells", "state_dropout": "state_dropout", "skip_z": "skip_z"}
#: Each decoder's options beyond the sizes: the model config's key (``model.KEY``) -> its constructor's argument.
#: ``skip_z`` is Skip-VAE's (Dieng et al. 2019); ``update_cells`` and ``state_dropout`` the original AWD code's
#: Double-LSTM variant (:class:`DoubleLSTMDecoder`); ``tf_*`` and ``latent_injection`` the Transformer's
#: (:class:`TransformerDecoder`, ``hidden_dim`` its ``d_model``); ``cnn_*`` Yang et al.'s dilated CNN's
#: (:class:`DilatedCNNDecoder`, whose width ``cnn_channels`` replaces ``hidden_dim``).
DECODER_OPTIONS = {
    "lstm": {"skip_z": "skip_z"},
    "double-lstm": _DOUBLE_LSTM_OPTIONS,
    "double-lstm-reference": _DOUBLE_LSTM_OPTIONS,
    "transformer": {
        "tf_layers": "layers",
        "tf_heads": "heads",
        "tf_ff": "ff_dim",
        "tf_dropout": "dropout",
        "tf_positions": "positions",
        "tf_max_len": "max_len",
        "latent_injection": "latent_injection",
    },
    "cnn": {
        "cnn_channels": "channels",
        "cnn_kernel": "kernel",
        "cnn_dilations": "dilations",
        "cnn_dropout": "dropout",
        "skip_z": "skip_z",
    },
}


def decoders_with(option: str) -> list[str]:
    """The decoders that take ``option`` (a key of :data:`DECODER_OPTIONS`)."""
    return [kind for kind, options in DECODER_OPTIONS.items() if option in options]


def build_decoder(
    kind: str,
    emb_dim: int,
    hidden_dim: int,
    z_dim: int,
    vocab_size: int,
    compile_steps: bool = False,
    **options,
) -> nn.Module:
    """Decoder by name: ``lstm``, ``double-lstm`` (fused), ``double-lstm-reference`` (step by step),
    ``transformer`` or ``cnn``, with ``options`` of its :data:`DECODER_OPTIONS` (named as in the model config; an
    option of another decoder is an error).

    ``compile_steps`` compiles the fused decoder's recurrence (:func:`_compiled_steps`); ``lstm`` runs in one
    fused library kernel already and the reference is kept as written.
    """
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; choose one of {sorted(DECODERS)}")
    for option in options:
        if option not in DECODER_OPTIONS[kind]:
            raise ValueError(f"{option} is not an option of the {kind!r} decoder but of {decoders_with(option)}")
    if compile_steps and kind != "double-lstm":
        raise ValueError(f"compiling the recurrence applies to the double-lstm decoder only, not {kind!r}")
    arguments = {DECODER_OPTIONS[kind][k]: v for k, v in options.items()}
    if kind == "double-lstm":
        arguments["compile_steps"] = compile_steps
    if kind == "cnn":
        return DilatedCNNDecoder(emb_dim, z_dim, vocab_size, **arguments)
    return DECODERS[kind](emb_dim, hidden_dim, z_dim, vocab_size, **arguments)
