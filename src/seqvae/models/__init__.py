"""Plain ``torch.nn`` model code: encoder, decoders, adversary, word dropout, the VAE."""

from seqvae.models.adversary import Adversary
from seqvae.models.decoders import DoubleLSTMDecoder, LSTMDecoder, build_decoder
from seqvae.models.dropout import AdversarialDropout, UniformDropout, WordDropout, build_dropout
from seqvae.models.encoder import LSTMEncoder
from seqvae.models.vae import SequenceVAE, VAEOutput

__all__ = [
    "Adversary",
    "AdversarialDropout",
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
