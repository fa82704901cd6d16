"""The sequence VAE: encoder, word dropout, decoder (SPEC sections 1-2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqvae.models.decoders import DECODER_OPTIONS, build_decoder
from seqvae.models.decoding import GREEDY, Decoding, decode
from seqvae.models.dropout import WordDropout, build_dropout
from seqvae.models.encoder import LSTMEncoder
from seqvae.models.init import initialise
from seqvae.objectives.kl import free_bits_kl, gaussian_kl

# What a dropped decoder input becomes: the zero vector, the embedding of <unk>, or a learned mask embedding.
DROP_TO = ("zero", "unk", "mask")


@dataclass
class VAEOutput:
    """Per-sentence terms of one forward pass.

    Attributes:
        rec: ``(B,)`` ``-log p(x | z, mask)`` with one posterior sample.
        kl_per_dim: ``(B, Z)`` closed-form ``KL(q(z|x) || p(z))`` per latent dimension.
        regulariser: ``(B,)`` adversary regulariser ``R_psi`` (zeros unless AWD).
        mu: ``(B, Z)`` posterior means.
        logvar: ``(B, Z)`` posterior log-variances.
        stats: dropout diagnostics.
    """

    rec: torch.Tensor
    kl_per_dim: torch.Tensor
    regulariser: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    stats: dict[str, torch.Tensor]

    @property
    def kl(self) -> torch.Tensor:
        """``(B,)`` KL per sentence."""
        return self.kl_per_dim.sum(dim=-1)

    def loss(self, beta: float = 1.0, free_bits: float = 0.0, free_bits_over: str = "batch") -> torch.Tensor:
        """The training objective, ``mean_b[rec + beta * KL + R_psi]`` (SPEC section 2), the KL with a free-bits
        floor of ``free_bits`` nats per dimension over ``free_bits_over`` (:func:`free_bits_kl`)."""
        kl = free_bits_kl(self.kl_per_dim, free_bits, free_bits_over)
        return (self.rec + beta * kl + self.regulariser).mean()


class SequenceVAE(nn.Module):
    """Sentence VAE with decoder-input word dropout.

    Token layout: ``tokens (B, T_max + 2)`` holds ``<s> x_1..x_T </s>`` padded with ``pad_id``;
    ``lengths (B,)`` holds each ``T``. The decoder reads ``tokens[:, :-1]`` and predicts
    ``tokens[:, 1:]``; the ``T + 1`` real targets include ``</s>``.

    Args:
        vocab_size: number of word types.
        emb_dim, enc_hidden, dec_hidden, z_dim: sizes (SPEC section 1).
        decoder: a name of :data:`seqvae.models.decoders.DECODERS` (``lstm``, ``double-lstm``, ``transformer``,
            ``cnn``).
        dropout: a :class:`WordDropout` module (default: none).
        pad_id, unk_id: special ids.
        drop_to: ``zero`` (a dropped input becomes the zero vector), ``unk`` (``<unk>``'s embedding) or ``mask``
            (a learned vector ``mask_embedding (E,)``, a parameter only of such models).
        bn_gamma: BN-VAE (Zhu et al. 2020): batch normalisation of the posterior means with this fixed scale
            (:class:`seqvae.models.encoder.MeanBatchNorm`); ``None``: off.
        compile_steps: compile the ``double-lstm`` decoder's recurrence (see :func:`build_decoder`).
        decoder_options: the decoder's options, named as in the model config (``update_cells``, ``tf_layers``,
            ``cnn_channels``, ``skip_z``, ...: :data:`seqvae.models.decoders.DECODER_OPTIONS`).
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int = 512,
        enc_hidden: int = 1024,
        dec_hidden: int = 1024,
        z_dim: int = 32,
        decoder: str = "lstm",
        dropout: WordDropout | None = None,
        pad_id: int = 0,
        unk_id: int = 1,
        drop_to: str = "zero",
        bn_gamma: float | None = None,
        compile_steps: bool = False,
        **decoder_options,
    ):
        super().__init__()
        if drop_to not in DROP_TO:
            raise ValueError(f"drop_to must be one of {DROP_TO}, got {drop_to!r}")
        self.z_dim = z_dim
        self.pad_id = pad_id
        self.unk_id = unk_id
        self.drop_to = drop_to
        self.encoder = LSTMEncoder(vocab_size, emb_dim, enc_hidden, z_dim, pad_id, bn_gamma)
        self.dec_embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.decoder = build_decoder(decoder, emb_dim, dec_hidden, z_dim, vocab_size, compile_steps, **decoder_options)
        self.dropout = dropout if dropout is not None else WordDropout()
        if drop_to == "mask":  # registered last: the other parameters are drawn as in a model without it
            self.mask_embedding = nn.Parameter(torch.randn(emb_dim))

    @classmethod
    def from_config(cls, cfg, vocab_size: int, pad_id: int = 0, unk_id: int = 1) -> SequenceVAE:
        """Build from the ``model`` and ``dropout`` sections of a run config (of the model section, the options of
        its decoder only) and ``train.compile``; parameters initialised as ``model.init`` says
        (:func:`seqvae.models.init.initialise`)."""
        m, d = cfg.model, cfg.dropout
        dropout = build_dropout(
            d.method,
            d.rate,
            vocab_size,
            exact_k=d.exact_k,
            tau=d.tau,
            lam=d.lam,
            adv_emb_dim=d.adv_emb_dim,
            adv_hidden_dim=d.adv_hidden_dim,
            score_scale=d.score_scale,
            score_bias=d.score_bias,
        )
        options = {key: getattr(m, key) for key in DECODER_OPTIONS[m.decoder]}
        model = cls(
            vocab_size,
            m.emb_dim,
            m.enc_hidden,
            m.dec_hidden,
            m.z_dim,
            m.decoder,
            dropout,
            pad_id,
            unk_id,
            d.drop_to,
            m.bn_gamma,
            cfg.train.compile,
            **options,
        )
        initialise(model, m.init)
        return model

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``(B, Z)``; the encoder sees the full sentence."""
        return self.encoder(tokens, lengths + 2)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = mu + sigma * eps``."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def embed_inputs(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder input embeddings ``(B, L, E)`` of ``inputs (B, L)``; where the keep-``mask (B, L)`` is 0 the
        input becomes zero, ``<unk>``'s embedding or the learned ``mask_embedding`` (``drop_to``)."""
        emb = self.dec_embedding(inputs)
        if mask is None:
            return emb
        keep = mask.unsqueeze(-1)
        if self.drop_to == "zero":
            return emb * keep
        fill = self.dec_embedding.weight[self.unk_id] if self.drop_to == "unk" else self.mask_embedding
        return emb * keep + fill * (1.0 - keep)

    def log_likelihood(self, tokens: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(x | z, mask)`` per sentence, ``(B,)``.

        Only the real targets (not padding) go through the output layer and the softmax, the largest cost of a
        step: their decoder states are gathered into one ``(N_real, H)`` matrix and the per-position log
        probabilities summed back per sentence.
        """
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        hidden = self.decoder.hidden_states(self.embed_inputs(inputs, mask), z)
        real = targets != self.pad_id
        logits = self.decoder.output(hidden[real])
        nll = F.cross_entropy(logits.float(), targets[real], reduction="none")
        rows = torch.arange(tokens.size(0), device=tokens.device).unsqueeze(1).expand_as(targets)[real]
        return -torch.zeros(tokens.size(0), dtype=nll.dtype, device=nll.device).index_add_(0, rows, nll)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> VAEOutput:
        """One-sample ELBO terms with the configured word dropout (active in training mode only)."""
        mu, logvar = self.encode(tokens, lengths)
        z = self.reparameterize(mu, logvar)
        drop = self.dropout(tokens[:, :-1], lengths)
        rec = -self.log_likelihood(tokens, z, drop.mask)
        return VAEOutput(rec, gaussian_kl(mu, logvar), drop.regulariser, mu, logvar, drop.stats)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, bos_id: int, eos_id: int, decoding: Decoding = GREEDY) -> list[list[int]]:
        """Word ids (without ``</s>``) decoded from latents ``z (B, Z)`` as ``decoding`` says (default: greedy, up
        to 50 words; :mod:`seqvae.models.decoding`)."""
        return decode(self, z, bos_id, eos_id, decoding)
