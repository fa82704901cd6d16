"""A run's training caps (``train.max_epochs``, ``train.max_steps``; -1: none) against where it ended.

Early stopping ends a converged run; a cap only guards against one that never stops. So a finished run that stopped
early is the same run under any cap it did not reach, and one that reached its cap trains on under a higher one.
"""

from __future__ import annotations

# Each cap's key in a run's config -> the summary's count that it caps.
CAPS = {"train.max_epochs": "epochs", "train.max_steps": "global_step"}


def reached_cap(caps: dict[str, int], summary: dict) -> bool:
    """Whether the finished run of ``summary`` ended at one of ``caps`` (key -> cap) rather than by early stopping."""
    return any(cap != -1 and summary[CAPS[key]] >= cap for key, cap in caps.items())


def saved_caps(config: dict) -> dict[str, int]:
    """The caps in a run's saved ``config.json`` (those it holds)."""
    train = config.get("train", {})
    return {key: train[name] for key in CAPS if (name := key.removeprefix("train.")) in train}


def unreached_cap_changes(changes: dict[str, tuple], summary: dict) -> set[str]:
    """The caps among a run's config ``changes`` (key -> (saved, new)) that cannot change its finished run of
    ``summary``: it stopped early, below its saved caps, and within the new ones, so it would have stopped at the
    same step under them."""
    changed = {key: changes[key] for key in CAPS if key in changes}
    if reached_cap({key: saved for key, (saved, _) in changed.items()}, summary):
        return set()
    return {key for key, (_, new) in changed.items() if new == -1 or summary[CAPS[key]] <= new}
