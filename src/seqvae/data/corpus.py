"""Readers for one-sentence-per-line corpora: PTB, Yahoo, Yelp, SNLI, any plain text (SPEC section 5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


class CorpusError(ValueError):
    """A corpus file is missing, unreadable or malformed."""


@dataclass
class Split:
    """One split of a corpus: tokenised sentences and, for labelled corpora, their labels."""

    sentences: list[list[str]]
    labels: list[str] | None = None


def default_corpus_dir() -> Path:
    """Folder of the embedded default corpus shipped with the package."""
    return Path(str(resources.files("seqvae") / "data" / "default_corpus"))


def read_split(path: str | Path, labelled: bool = False, lowercase: bool = False) -> Split:
    """Read ``path``: one whitespace-tokenised sentence per line, UTF-8.

    With ``labelled`` each line is ``label<TAB>sentence`` (the Yelp/Yahoo releases of
    Yang et al. 2017). Blank lines are skipped with a warning.

    Raises:
        CorpusError: missing file, invalid UTF-8, a labelled line without a tab, or no sentence at all.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    sentences: list[list[str]] = []
    labels: list[str] = []
    blank = 0
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise CorpusError(
                    f"{path}:{lineno}: not valid UTF-8 ({err.reason} at byte {err.start}); "
                    "convert the file to UTF-8, e.g. with iconv"
                ) from None
            if not line.strip():
                blank += 1
                continue
            if labelled:
                label, tab, line = line.partition("\t")
                if not tab:
                    raise CorpusError(f"{path}:{lineno}: expected 'label<TAB>sentence' in a labelled corpus")
            words = (line.lower() if lowercase else line).split()
            if not words:
                raise CorpusError(f"{path}:{lineno}: label without a sentence")
            sentences.append(words)
            if labelled:
                labels.append(label.strip())
    if blank:
        log.warning("%s: skipped %d blank line(s)", path, blank)
    if not sentences:
        raise CorpusError(f"corpus file has no sentences: {path}")
    return Split(sentences, labels if labelled else None)


def read_labels_tsv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``.labels.tsv`` file (header line, then one row per sentence)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
