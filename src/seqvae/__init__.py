"""seqvae: sequence VAEs with adversarial word dropout against posterior collapse."""

__version__ = "0.1.0"
