"""Training objectives: KL terms and the annealing of their weight."""

from seqvae.objectives.annealing import KLSchedule
from seqvae.objectives.kl import free_bits_kl, gaussian_kl

__all__ = ["KLSchedule", "free_bits_kl", "gaussian_kl"]
