"""Hydra sweeper plugin of seqvae (Hydra finds plugins in the ``hydra_plugins`` namespace)."""
