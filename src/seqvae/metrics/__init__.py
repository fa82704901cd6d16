"""Evaluation metrics of SPEC section 4."""

from seqvae.metrics.elbo import ELBOResult, elbo_terms, perplexity

__all__ = ["ELBOResult", "elbo_terms", "perplexity"]
