"""Plain ``torch.nn`` model code: encoder, decoders, word dropout (with AWD's adversary), the VAE."""

from seqvae.models.decoders import DoubleLSTMDecoder, LSTMDecoder, build_decoder
from seqvae.models.dropout import (
    AdversarialWordDropout,
    Adversary,
    UniformDropout,
    WordDropout,
    build_dropout,
)
from seqvae.models.encoder import LSTMEncoder
from seqvae.models.vae import SequenceVAE, VAEOutput

__all__ = [
    "Adversary",
    "AdversarialWordDropout",
    "DoubleLSTMDecoder",
    "LSTMDecoder",
    "LSTMEncoder",
    "SequenceVAE",
    "UniformDropout",
    "VAEOutput",
    "WordDropout",
    "build_decoder",
    "build_dropout",
]
