"""Evaluation metrics of SPEC section 4."""

from seqvae.metrics.active_units import ActiveUnits, active_units
from seqvae.metrics.importance import (
    IWResult,
    importance_weighted_nll,
    iw_log_marginal,
    log_normal,
    log_normal_per_dim,
    log_standard_normal,
)
from seqvae.metrics.mutual_info import (
    MutualInformation,
    collect_posteriors,
    model_mutual_information,
    mutual_information,
    mutual_information_estimates,
)
from seqvae.metrics.perplexity import perplexity

__all__ = [
    "ActiveUnits",
    "MutualInformation",
    "IWResult",
    "active_units",
    "collect_posteriors",
    "importance_weighted_nll",
    "iw_log_marginal",
    "log_normal",
    "log_normal_per_dim",
    "log_standard_normal",
    "model_mutual_information",
    "mutual_information",
    "mutual_information_estimates",
    "perplexity",
]
