"""Autoregressive decoders p(x|z) (SPEC section 1).

Both decoders read input embeddings (already masked by the word dropout) and a latent ``z``
and return next-word logits. Each offers a teacher-forced ``forward`` over the whole
sequence (``hidden_states`` then the output layer, which a caller can apply to the real
positions only) and a one-step ``step`` for generation; both compute the same function.
"""

from __future__ import annotations

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


class DoubleLSTMRecurrence(torch.autograd.Function):
    """The Double-LSTM recurrence once the input projections are done, with a hand-written backward.

    Forward, per step: ``(h, c) <- LSTM(predict_gates + h W_p^T, c)``, then ``(h, c) <- LSTM(update_inputs[t] +
    h W_u^T, c)``. Backward runs the steps in reverse for the state gradients only (two ``(B, 4H) x (4H, H)``
    products a step) and forms the recurrent weights' gradients afterwards, each as one product over all steps,
    instead of one small product per step.

    Inputs: ``update_inputs (L, B, 4H)``, ``predict_gates (B, 4H)``, ``h0, c0 (B, H)``, ``w_predict, w_update
    (4H, H)``. Output: ``(L, B, H)`` the update cell's ``h`` at every step.
    """

    @staticmethod
    def forward(ctx, update_inputs, predict_gates, h0, c0, w_predict, w_update):
        steps = update_inputs.size(0)
        h, c = h0, c0
        saved = {key: [] for key in ("h_prev", "c_prev", "gates_p", "c_mid", "h_mid", "gates_u", "c_out")}
        outputs = []
        for t in range(steps):
            saved["h_prev"].append(h)
            saved["c_prev"].append(c)
            i, f, g, o = _lstm_gates(torch.addmm(predict_gates, h, w_predict.t()))
            saved["gates_p"].append(torch.cat([i, f, g, o], dim=1))
            c = f * c + i * g
            h = o * torch.tanh(c)
            saved["c_mid"].append(c)
            saved["h_mid"].append(h)
            i, f, g, o = _lstm_gates(torch.addmm(update_inputs[t], h, w_update.t()))
            saved["gates_u"].append(torch.cat([i, f, g, o], dim=1))
            c = f * c + i * g
            h = o * torch.tanh(c)
            saved["c_out"].append(c)
            outputs.append(h)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(w_predict, w_update, *(torch.stack(saved[key]) for key in saved))
        return torch.stack(outputs)

    @staticmethod
    def backward(ctx, d_outputs):
        w_predict, w_update, h_prev, c_prev, gates_p, c_mid, h_mid, gates_u, c_out = ctx.saved_tensors
        steps = d_outputs.size(0)
        dh = torch.zeros_like(h_prev[0])
        dc = torch.zeros_like(c_prev[0])
        d_update = torch.empty_like(gates_u)
        d_predict = torch.empty_like(gates_p)
        for t in reversed(range(steps)):
            d_pre, dc = _lstm_cell_backward(d_outputs[t] + dh, dc, gates_u[t], c_mid[t], c_out[t])
            d_update[t] = d_pre
            d_pre, dc = _lstm_cell_backward(d_pre @ w_update, dc, gates_p[t], c_prev[t], c_mid[t])
            d_predict[t] = d_pre
            dh = d_pre @ w_predict
        hidden = w_update.size(1)
        dw_update = d_update.flatten(0, 1).t() @ h_mid.reshape(-1, hidden)
        dw_predict = d_predict.flatten(0, 1).t() @ h_prev.reshape(-1, hidden)
        return d_update, d_predict.sum(dim=0), dh, dc, dw_predict, dw_update


class FusedDoubleLSTMDecoder(DoubleLSTMDecoder):
    """:class:`DoubleLSTMDecoder` with a fused teacher-forced pass; same parameters, same function.

    The input projections leave the loop: the predict cell's input ``z`` is the same at every step, so its
    projection is computed once, and the update cell's ``[e(x_{i-1}), z]`` projection is one matrix product
    over all positions. A step is then the two recurrent products and the gate arithmetic
    (:class:`DoubleLSTMRecurrence`). ``step`` (generation) is the reference's.
    """

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
        with torch.autocast(inputs.device.type, enabled=False):
            hidden = DoubleLSTMRecurrence.apply(
                update_inputs.to(dtype), predict_gates.to(dtype), h.to(dtype), c.to(dtype), p.weight_hh, u.weight_hh
            )
        return hidden.transpose(0, 1)


DECODERS = {
    "lstm": LSTMDecoder,
    "double-lstm": FusedDoubleLSTMDecoder,
    "double-lstm-reference": DoubleLSTMDecoder,
}


def build_decoder(kind: str, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int) -> nn.Module:
    """Decoder by name: ``lstm``, ``double-lstm`` (fused) or ``double-lstm-reference`` (step by step)."""
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; choose one of {sorted(DECODERS)}")
    return DECODERS[kind](emb_dim, hidden_dim, z_dim, vocab_size)
