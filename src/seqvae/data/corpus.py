"""Readers for one-sentence-per-line corpora: PTB, Yahoo, Yelp, SNLI, any plain text (SPEC section 5)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from seqvae.data.vocab import UNK

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
_LINE_RANGE = re.compile(r"^(?P<file>.+)\[(?P<start>\d*):(?P<stop>\d*)\]$")
_LABEL_PREFIX = re.compile(r"^[^\t ]+\t")


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


def parse_split_file(spec: str) -> tuple[str, slice]:
    """``FILE`` or ``FILE[a:b]``: a file name and the range of its sentences to use.

    The range counts sentences from 0 (blank lines are not counted), as Python slices do: ``test.txt[:5000]``
    is the first 5,000, ``test.txt[5000:]`` the rest. Derived corpora (``yahoo-small``) are made this way.
    """
    match = _LINE_RANGE.match(spec)
    if match is None:
        return spec, slice(None)
    start, stop = (int(v) if v else None for v in (match["start"], match["stop"]))
    return match["file"], slice(start, stop)


def looks_labelled(lines: list[str]) -> bool:
    """Whether every line starts with ``label<TAB>`` (a label without spaces), as in Yang et al.'s releases."""
    return bool(lines) and all(_LABEL_PREFIX.match(line) for line in lines)


def read_split(
    path: str | Path,
    labelled: bool | None = False,
    lowercase: bool = False,
    unk_token: str | None = None,
    lines: slice = slice(None),
) -> Split:
    """Read ``path``: one whitespace-tokenised sentence per line, UTF-8.

    With ``labelled`` each line is ``label<TAB>sentence`` (the Yelp/Yahoo releases of
    Yang et al. 2017); ``None`` detects it: labelled if every line starts with ``label<TAB>``.
    ``unk_token`` is the file's own unknown-word token (Yahoo's ``_UNK``), read as ``<unk>``.
    ``lines`` keeps a range of the sentences (see :func:`parse_split_file`). Blank lines are skipped
    with a warning.

    Raises:
        CorpusError: missing file, invalid UTF-8, a labelled line without a tab, or no sentence at all.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    numbered: list[tuple[int, str]] = []
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
            numbered.append((lineno, line))
    if blank:
        log.warning("%s: skipped %d blank line(s)", path, blank)
    if labelled is None:
        labelled = looks_labelled([line for _, line in numbered])
    sentences: list[list[str]] = []
    labels: list[str] = []
    for lineno, line in numbered:
        if labelled:
            label, tab, line = line.partition("\t")
            if not tab:
                raise CorpusError(f"{path}:{lineno}: expected 'label<TAB>sentence' in a labelled corpus")
            labels.append(label.strip())
        words = (line.lower() if lowercase else line).split()
        if not words:
            raise CorpusError(f"{path}:{lineno}: label without a sentence")
        if unk_token is not None:
            words = [UNK if w == unk_token else w for w in words]
        sentences.append(words)
    total = len(sentences)
    sentences, labels = sentences[lines], labels[lines]
    if not sentences:
        where = (
            f"{path}" if lines == slice(None) else f"{path}[{lines.start or ''}:{lines.stop or ''}] ({total} sentences)"
        )
        raise CorpusError(f"corpus file has no sentences: {where}")
    return Split(sentences, labels if labelled else None)


def read_labels_tsv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``.labels.tsv`` file (header line, then one row per sentence)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
