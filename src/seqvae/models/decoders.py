"""Autoregressive decoders p(x|z) (SPEC section 1).

Both decoders read input embeddings (already masked by the word dropout) and a latent ``z``
and return next-word logits. Each offers a teacher-forced ``forward`` over the whole
sequence (``hidden_states`` then the output layer, which a caller can apply to the real
positions only) and a one-step ``step`` for generation; both compute the same function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class _LatentInitDecoder(nn.Module):
    """Shared parts: the initial state from ``z`` (``h_0 = W z + b``, ``c_0 = 0``) and the output layer."""

    def __init__(self, hidden_dim: int, z_dim: int, vocab_size: int):
        super().__init__()
        self.init_h = nn.Linear(z_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, vocab_size)

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
    """

    def __init__(self, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int):
        super().__init__(hidden_dim, z_dim, vocab_size)
        self.lstm = nn.LSTM(emb_dim + z_dim, hidden_dim, batch_first=True)

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``."""
        h, c = self.init_state(z)
        x = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.size(1), -1)], dim=-1)
        out, _ = self.lstm(x, (h.unsqueeze(0), c.unsqueeze(0)))
        return out

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: ``inp (B, E)`` -> logits ``(B, V)`` and the next state."""
        h, c = state
        out, (h, c) = self.lstm(torch.cat([inp, z], dim=-1).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return self.output(out.squeeze(1)), (h.squeeze(0), c.squeeze(0))


class DoubleLSTMDecoder(_LatentInitDecoder):
    """The paper's decoder: per step, a *predict* cell on ``z`` then an *update* cell on ``[e(x_{i-1}), z]``.

    ``(h, c) <- predict(z, (h, c))``; ``(h, c) <- update([e(x_{i-1}), z], (h, c))``; ``h`` predicts
    ``x_i``. ``z`` thus reaches every step through a skip path (after Dieng et al. 2019).
    ``h_0 = W z + b``, ``c_0 = 0``.

    Args:
        emb_dim: input embedding size.
        hidden_dim: cell hidden size.
        z_dim: latent size.
        vocab_size: output vocabulary size.
    """

    def __init__(self, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int):
        super().__init__(hidden_dim, z_dim, vocab_size)
        self.predict = nn.LSTMCell(z_dim, hidden_dim)
        self.update = nn.LSTMCell(emb_dim + z_dim, hidden_dim)

    def _advance(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> State:
        state = self.predict(z, state)
        return self.update(torch.cat([inp, z], dim=-1), state)

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``."""
        state = self.init_state(z)
        hidden = []
        for i in range(inputs.size(1)):
            state = self._advance(inputs[:, i], z, state)
            hidden.append(state[0])
        return torch.stack(hidden, dim=1)

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: ``inp (B, E)`` -> logits ``(B, V)`` and the next state."""
        state = self._advance(inp, z, state)
        return self.output(state[0]), state


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
) -> tuple[torch.Tensor, ...]:
    """One Double-LSTM step from ``(h, c)``: ``(gates_p, c_mid, h_mid, gates_u, c_out, h_out)``."""
    gates_p, c_mid, h_mid = _lstm_cell(torch.addmm(predict_gates, h, w_predict.t()), c)
    gates_u, c_out, h_out = _lstm_cell(torch.addmm(update_input, h_mid, w_update.t()), c_mid)
    return gates_p, c_mid, h_mid, gates_u, c_out, h_out


def _backward_step(
    d_out: torch.Tensor,
    dh: torch.Tensor,
    dc: torch.Tensor,
    gates_p: torch.Tensor,
    c_prev: torch.Tensor,
    c_mid: torch.Tensor,
    gates_u: torch.Tensor,
    c_out: torch.Tensor,
    w_predict: torch.Tensor,
    w_update: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step back: ``(d update pre-activations, d predict pre-activations, d h_prev, d c_prev)``."""
    d_update, dc = _lstm_cell_backward(d_out + dh, dc, gates_u, c_mid, c_out)
    d_predict, dc = _lstm_cell_backward(d_update @ w_update, dc, gates_p, c_prev, c_mid)
    return d_update, d_predict, d_predict @ w_predict, dc


@functools.cache
def _compiled_steps() -> tuple[Callable[..., tuple[torch.Tensor, ...]], Callable[..., tuple[torch.Tensor, ...]]]:
    """:func:`_forward_step` and :func:`_backward_step` through ``torch.compile``: the gate arithmetic of a step
    becomes one generated kernel per cell (C++ on the CPU, Triton on CUDA) around the two matrix products. Shapes
    are static at first and dynamic after the first recompile, so a new batch size recompiles once, not each time."""
    return torch.compile(_forward_step, fullgraph=True), torch.compile(_backward_step, fullgraph=True)


#: What :meth:`DoubleLSTMRecurrence.run` keeps of each step for the backward: the state before the step, the
#: predict cell's gates and state, the update cell's gates and cell state.
SAVED = ("h_prev", "c_prev", "gates_p", "c_mid", "h_mid", "gates_u", "c_out")


class DoubleLSTMRecurrence(torch.autograd.Function):
    """The Double-LSTM recurrence once the input projections are done, with a hand-written backward.

    Forward, per step: ``(h, c) <- LSTM(predict_gates + h W_p^T, c)``, then ``(h, c) <- LSTM(update_inputs[t] +
    h W_u^T, c)``. Backward runs the steps in reverse for the state gradients only (two ``(B, 4H) x (4H, H)``
    products a step) and forms the recurrent weights' gradients afterwards, each as one product over all steps,
    instead of one small product per step. With ``compiled``, each step runs through :func:`_compiled_steps`.

    Inputs: ``update_inputs (L, B, 4H)``, ``predict_gates (B, 4H)``, ``h0, c0 (B, H)``, ``w_predict, w_update
    (4H, H)``, ``compiled`` (bool). Output: ``(L, B, H)`` the update cell's ``h`` at every step.
    """

    @staticmethod
    def run(update_inputs, predict_gates, h0, c0, w_predict, w_update, compiled, keep):
        """The forward steps: the outputs ``(L, B, H)`` and, with ``keep``, the per-step tensors the backward
        reads, each stacked over the steps (:data:`SAVED` order); ``None`` without (inference keeps nothing)."""
        forward_step = _compiled_steps()[0] if compiled else _forward_step
        h, c = h0, c0
        saved = [[] for _ in SAVED]
        outputs = []
        for t in range(update_inputs.size(0)):
            step = forward_step(update_inputs[t], predict_gates, h, c, w_predict, w_update)
            if keep:
                for store, value in zip(saved, (h, c, *step[:5]), strict=True):
                    store.append(value)
            c, h = step[4], step[5]
            outputs.append(h)
        return torch.stack(outputs), [torch.stack(store) for store in saved] if keep else None

    @staticmethod
    def forward(ctx, update_inputs, predict_gates, h0, c0, w_predict, w_update, compiled):
        ctx.compiled = compiled
        outputs, saved = DoubleLSTMRecurrence.run(
            update_inputs, predict_gates, h0, c0, w_predict, w_update, compiled, keep=True
        )
        ctx.save_for_backward(w_predict, w_update, *saved)
        return outputs

    @staticmethod
    def backward(ctx, d_outputs):
        w_predict, w_update, h_prev, c_prev, gates_p, c_mid, h_mid, gates_u, c_out = ctx.saved_tensors
        backward_step = _compiled_steps()[1] if ctx.compiled else _backward_step
        dh = torch.zeros_like(h_prev[0])
        dc = torch.zeros_like(c_prev[0])
        d_update = torch.empty_like(gates_u)
        d_predict = torch.empty_like(gates_p)
        for t in reversed(range(d_outputs.size(0))):
            d_update[t], d_predict[t], dh, dc = backward_step(
                d_outputs[t], dh, dc, gates_p[t], c_prev[t], c_mid[t], gates_u[t], c_out[t], w_predict, w_update
            )
        hidden = w_update.size(1)
        dw_update = d_update.flatten(0, 1).t() @ h_mid.reshape(-1, hidden)
        dw_predict = d_predict.flatten(0, 1).t() @ h_prev.reshape(-1, hidden)
        return d_update, d_predict.sum(dim=0), dh, dc, dw_predict, dw_update, None


class FusedDoubleLSTMDecoder(DoubleLSTMDecoder):
    """:class:`DoubleLSTMDecoder` with a fused teacher-forced pass; same parameters, same function.

    The input projections leave the loop: the predict cell's input ``z`` is the same at every step, so its
    projection is computed once, and the update cell's ``[e(x_{i-1}), z]`` projection is one matrix product
    over all positions. A step is then the two recurrent products and the gate arithmetic
    (:class:`DoubleLSTMRecurrence`), compiled with ``compile_steps``. ``step`` (generation) is the reference's.
    """

    def __init__(self, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int, compile_steps: bool = False):
        super().__init__(emb_dim, hidden_dim, z_dim, vocab_size)
        self.compile_steps = compile_steps

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``."""
        h, c = self.init_state(z)
        p, u = self.predict, self.update
        emb_dim = inputs.size(-1)
        predict_gates = torch.addmm(p.bias_ih + p.bias_hh, z, p.weight_ih.t())
        z_gates = torch.addmm(u.bias_ih + u.bias_hh, z, u.weight_ih[:, emb_dim:].t())
        update_inputs = torch.matmul(inputs.transpose(0, 1), u.weight_ih[:, :emb_dim].t()) + z_gates
        # The hand-written backward runs in the weights' dtype: under autocast (bf16-mixed) the recurrence stays
        # in float32, the projections around it do not.
        dtype = u.weight_hh.dtype
        states = (x.to(dtype) for x in (update_inputs, predict_gates, h, c))
        args = (*states, p.weight_hh, u.weight_hh, self.compile_steps)
        with torch.autocast(inputs.device.type, enabled=False):
            if torch.is_grad_enabled():
                hidden = DoubleLSTMRecurrence.apply(*args)
            else:  # evaluation (e.g. the IW-NLL's many samples): no per-step tensors kept for a backward
                hidden = DoubleLSTMRecurrence.run(*args, keep=False)[0]
        return hidden.transpose(0, 1)


DECODERS = {
    "lstm": LSTMDecoder,
    "double-lstm": FusedDoubleLSTMDecoder,
    "double-lstm-reference": DoubleLSTMDecoder,
}


def build_decoder(
    kind: str, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int, compile_steps: bool = False
) -> nn.Module:
    """Decoder by name: ``lstm``, ``double-lstm`` (fused) or ``double-lstm-reference`` (step by step).

    ``compile_steps`` compiles the fused decoder's recurrence (:func:`_compiled_steps`); ``lstm`` runs in one
    fused library kernel already and the reference is kept as written.
    """
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; choose one of {sorted(DECODERS)}")
    if kind == "double-lstm":
        return FusedDoubleLSTMDecoder(emb_dim, hidden_dim, z_dim, vocab_size, compile_steps)
    if compile_steps:
        raise ValueError(f"compiling the recurrence applies to the double-lstm decoder only, not {kind!r}")
    return DECODERS[kind](emb_dim, hidden_dim, z_dim, vocab_size)
