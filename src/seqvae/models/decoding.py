"""Decoding sentences from latents with any decoder: greedy, sampling (temperature, top-k, top-p) and beam search.

Every decoder offers ``init_state(z)`` and ``step(inp, z, state) -> (logits, state)``; a state is a tensor, or a
tuple, list or dataclass of them (the Transformer's key/value cache), each with the batch first, so beam search
reorders any of them the same way (:func:`select_rows`). ``<pad>`` and ``<s>`` are never targets in training and
are never decoded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

STRATEGIES = ("greedy", "sample", "beam")


class Decodable(Protocol):
    """What decoding reads of a model (a :class:`seqvae.models.vae.SequenceVAE`): its decoder (``init_state``,
    ``step``), the decoder's input embedding and the padding id."""

    decoder: nn.Module
    dec_embedding: nn.Embedding
    pad_id: int


@dataclass(frozen=True)
class Decoding:
    """How to turn latents into words.

    Attributes:
        strategy: ``greedy`` (the most likely word each step), ``sample`` (a draw from the softmax of
            ``logits / temperature``, restricted by ``top_k`` and ``top_p``) or ``beam`` (beam search).
        temperature: softmax temperature of ``sample`` (> 0).
        top_k: ``sample`` draws among the ``top_k`` most likely words only; 0: all.
        top_p: nucleus sampling (Holtzman et al. 2020): ``sample`` draws among the fewest most likely words whose
            probability reaches ``top_p``; 1: all.
        beam_width: hypotheses kept each step by ``beam``.
        length_penalty: ``beam`` ranks finished hypotheses by ``log p(y | z) / |y|^length_penalty`` (``|y|``
            counts ``</s>``): 0 is the raw log probability, which favours short sentences; 1 the mean per word.
        max_len: words decoded at most (a sentence without ``</s>`` by then ends there).
    """

    strategy: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    beam_width: int = 5
    length_penalty: float = 1.0
    max_len: int = 50

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"decoding strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        checks = (
            (self.temperature > 0, f"temperature must be > 0, got {self.temperature}"),
            (self.top_k >= 0, f"top_k must be >= 0, got {self.top_k}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (self.beam_width >= 1, f"beam_width must be >= 1, got {self.beam_width}"),
            (self.length_penalty >= 0, f"length_penalty must be >= 0, got {self.length_penalty}"),
            (self.max_len >= 1, f"max_len must be >= 1, got {self.max_len}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def describe(self) -> str:
        """A short phrase for titles: ``greedy``, ``sampled at T = 0.8, top-p 0.9``, ``beam 5, alpha 1``."""
        if self.strategy == "greedy":
            return "greedy"
        if self.strategy == "beam":
            return f"beam {self.beam_width}, alpha {self.length_penalty:g}"
        limits = [f"top-k {self.top_k}"] * (self.top_k > 0) + [f"top-p {self.top_p:g}"] * (self.top_p < 1)
        return ", ".join([f"sampled at T = {self.temperature:g}", *limits])


#: The default decoding: greedy, up to 50 words.
GREEDY = Decoding()


def select_rows(state: Any, index: torch.Tensor) -> Any:
    """The decoder ``state`` with the rows ``index (N,)`` of every tensor in it (its batch dimension first)."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index)
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(s, index) for s in state)
    if dataclasses.is_dataclass(state):
        return dataclasses.replace(
            state, **{f.name: select_rows(getattr(state, f.name), index) for f in dataclasses.fields(state)}
        )
    return state


def restrict(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """``logits (B, V)`` with ``-inf`` outside each row's ``top_k`` largest and outside its nucleus: the fewest
    largest whose softmax probabilities sum to at least ``top_p`` (the largest always stays)."""
    if top_k > 0 and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        beyond = probs.cumsum(dim=-1) - probs >= top_p  # the mass of the words before reaches top_p already
        logits = logits.masked_fill(torch.empty_like(beyond).scatter_(-1, order, beyond), float("-inf"))
    return logits


def _step_log_probs(model: Decodable, prev: torch.Tensor, z: torch.Tensor, state: Any, banned: list[int]):
    """Next-word log probabilities ``(N, V)`` after ``prev (N,)`` with the ``banned`` ids excluded, and the state."""
    logits, state = model.decoder.step(model.dec_embedding(prev), z, state)
    logits = logits.float()
    logits[:, banned] = float("-inf")
    return logits.log_softmax(dim=-1), state


def _strip(rows: list[list[int]], eos_id: int) -> list[list[int]]:
    return [row[: row.index(eos_id)] if eos_id in row else row for row in rows]


def decode_stepwise(model: Decodable, z: torch.Tensor, bos_id: int, eos_id: int, decoding: Decoding) -> list[list[int]]:
    """Greedy or sampled word ids for each latent of ``z (B, Z)``, up to ``</s>`` (left out) or ``max_len``.
    Sampling draws from torch's global generator."""
    banned = [model.pad_id, bos_id]
    state = model.decoder.init_state(z)
    prev = torch.full((z.size(0),), bos_id, dtype=torch.long, device=z.device)
    done = torch.zeros(z.size(0), dtype=torch.bool, device=z.device)
    out: list[torch.Tensor] = []
    for _ in range(decoding.max_len):
        log_probs, state = _step_log_probs(model, prev, z, state, banned)
        if decoding.strategy == "greedy":
            prev = log_probs.argmax(dim=-1)
        else:
            logits = restrict(log_probs / decoding.temperature, decoding.top_k, decoding.top_p)
            prev = torch.multinomial(logits.softmax(dim=-1), 1).squeeze(1)
        out.append(prev)
        done = done | (prev == eos_id)
        if bool(done.all()):
            break
    return _strip(torch.stack(out, dim=1).tolist(), eos_id)


def beam_search(
    model: Decodable, z: torch.Tensor, bos_id: int, eos_id: int, decoding: Decoding
) -> tuple[list[list[int]], torch.Tensor]:
    """The best hypothesis of a beam search for each latent of ``z (B, Z)`` and its score ``(B,)``.

    Each step extends every live hypothesis by every word. Its extension by ``</s>`` is a finished candidate,
    scored ``log p(y | z) / |y|^alpha`` (``alpha = length_penalty``); of the other extensions the
    ``beam_width`` most probable stay live. At ``max_len`` the live hypotheses end as they are. The search stops
    early once no live hypothesis can beat the best finished one: its log probability only falls, so its score
    is at most ``log p / max_len^alpha``. With a beam as wide as the number of prefixes, the result is the
    exhaustive search's best sentence.
    """
    width, alpha = decoding.beam_width, decoding.length_penalty
    batch, device = z.size(0), z.device
    never = [model.pad_id, bos_id]
    z = z.repeat_interleave(width, dim=0)
    state = model.decoder.init_state(z)
    prev = torch.full((batch * width,), bos_id, dtype=torch.long, device=device)
    # Live log probabilities (B, W): one live hypothesis (the empty prefix) at the start.
    live = torch.full((batch, width), float("-inf"), device=device)
    live[:, 0] = 0.0
    prefixes = torch.zeros(batch, width, 0, dtype=torch.long, device=device)
    best = torch.full((batch,), float("-inf"), device=device)
    best_ids: list[list[int]] = [[] for _ in range(batch)]
    for length in range(1, decoding.max_len + 1):
        log_probs, state = _step_log_probs(model, prev, z, state, never)
        log_probs = live.view(-1, 1) + log_probs
        last = length == decoding.max_len
        ended = log_probs if last else log_probs[:, eos_id : eos_id + 1]
        ended_score = (ended / length**alpha).view(batch, -1)
        top_score, top = ended_score.max(dim=1)
        for b in torch.nonzero(top_score > best).flatten().tolist():
            best[b] = top_score[b]
            beam, word = divmod(top[b].item(), ended.size(1))
            word = word if last else eos_id
            best_ids[b] = prefixes[b, beam].tolist() + ([] if word == eos_id else [word])
        if last:
            break
        log_probs[:, eos_id] = float("-inf")  # a hypothesis that ends is a candidate above, never live
        live, flat = log_probs.view(batch, -1).topk(width, dim=1)
        beams, words = flat.div(log_probs.size(1), rounding_mode="floor"), flat % log_probs.size(1)
        rows = (beams + torch.arange(batch, device=device).unsqueeze(1) * width).view(-1)
        prefixes = torch.cat([prefixes.gather(1, beams.unsqueeze(-1).expand_as(prefixes)), words.unsqueeze(-1)], -1)
        state, prev = select_rows(state, rows), words.view(-1)
        if bool((live.max(dim=1).values / decoding.max_len**alpha <= best).all()):
            break
    return best_ids, best


def decode(model: Decodable, z: torch.Tensor, bos_id: int, eos_id: int, decoding: Decoding) -> list[list[int]]:
    """Word ids (without ``</s>``) for each latent of ``z (B, Z)`` as ``decoding`` says."""
    if decoding.strategy == "beam":
        return beam_search(model, z, bos_id, eos_id, decoding)[0]
    return decode_stepwise(model, z, bos_id, eos_id, decoding)
