"""A trained model read back from its checkpoint, for evaluation and analysis (no trainer needed).

A checkpoint is read with ``torch.load(weights_only=True)``: it may hold tensors and plain data only, so a file
that would run code when unpickled is refused before anything in it runs. What it must hold: the run's config
(``hyper_parameters.config``), the vocabulary (``vocab``) and the weights (``state_dict``, the averaged ones).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf.errors import OmegaConfBaseException

from seqvae.config import Config
from seqvae.data.vocab import Vocabulary
from seqvae.models.vae import SequenceVAE

MODEL_PREFIX = "model."


class CheckpointError(ValueError):
    """A file that is not a loadable seqvae checkpoint; the message says why."""


@dataclass
class TrainedModel:
    """A checkpoint's model (evaluation mode, averaged weights), with what it was trained on.

    Attributes:
        model: the :class:`SequenceVAE`.
        vocab: its vocabulary.
        cfg: the run's config.
        path: the checkpoint file.
    """

    model: SequenceVAE
    vocab: Vocabulary
    cfg: Config
    path: Path

    def tokens(self, sentence: str) -> list[str]:
        """A sentence tokenised as the corpus was read: whitespace, lowercased if the corpus was."""
        return (sentence.lower() if self.cfg.data.lowercase else sentence).split()

    def unknown_words(self, words: list[str]) -> list[str]:
        """The ``words`` that are not in the vocabulary, which the model reads as ``<unk>``."""
        return [w for w in words if w not in self.vocab.index]


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The contents of a checkpoint file, read as tensors and plain data only (:class:`CheckpointError` if not)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        contents = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err):
            raise CheckpointError(
                f"{path} holds objects other than tensors and plain data, which a seqvae checkpoint never does; "
                "it was not loaded and nothing in it was run"
            ) from err
        raise CheckpointError(f"{path} is not a checkpoint: it does not unpickle as one") from err
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as err:
        raise CheckpointError(f"{path} is not a checkpoint, or is truncated ({type(err).__name__} reading it)") from err
    if not isinstance(contents, dict):
        raise CheckpointError(f"{path} is not a seqvae checkpoint: it holds a {type(contents).__name__}")
    return contents


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> TrainedModel:
    """The model of a checkpoint (``best.ckpt`` or ``last.ckpt`` of a run), in evaluation mode, on ``map_location``.

    Configs saved by earlier versions load too (:meth:`Config.from_saved`).
    """
    contents = read_checkpoint(path, map_location)
    missing = [k for k in ("hyper_parameters", "vocab", "state_dict") if k not in contents]
    if missing or "config" not in contents.get("hyper_parameters", {}):
        raise CheckpointError(
            f"{path} is not a seqvae checkpoint: it lacks {', '.join(missing) or 'hyper_parameters.config'}"
        )
    try:
        cfg = Config.from_saved(contents["hyper_parameters"]["config"])
        vocab = Vocabulary(contents["vocab"])
        model = SequenceVAE.from_config(cfg, len(vocab), vocab.pad_id, vocab.unk_id)
        weights = {k[len(MODEL_PREFIX) :]: v for k, v in contents["state_dict"].items() if k.startswith(MODEL_PREFIX)}
        model.load_state_dict(weights)
    except (ValueError, KeyError, TypeError, RuntimeError, OmegaConfBaseException) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path} is a checkpoint this version cannot build a model from: {reason}") from err
    return TrainedModel(model.to(map_location).eval(), vocab, cfg, Path(path))
