"""``seqvae data fetch`` against a loopback HTTP server with Range support: placement, checksums, resumption."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import seqvae
from seqvae.cli import main
from seqvae.data.fetch import RELEASES, FetchError, Release, fetch

SPLITS = ("train", "valid", "test")
PTB = {f"ptb.{split}.txt": f"the {split} sentence number {i} .\n".encode() * 500 for i, split in enumerate(SPLITS)}
SNLI = {f"snli.{split}.txt": f"a dog runs in the {split} park .\n".encode() * 300 for split in SPLITS}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Site:
    """What the server serves (path below the root, with query, -> bytes) and the requests it saw."""

    files: dict[str, bytes]
    ranges: bool = True
    content_type: str = "application/octet-stream"
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    """GET with ``Range: bytes=N-`` (206, or 416 past the end); 200 with the whole file when ranges are off."""

    site: Site

    def do_GET(self) -> None:
        asked = self.headers.get("Range")
        self.site.requests.append((self.path, asked))
        body = self.site.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        start = int(asked.removeprefix("bytes=").removesuffix("-")) if asked and self.site.ranges else 0
        if start and start >= len(body):
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Type", self.site.content_type)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve(site: Site) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 in a thread; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("SiteHandler", (Handler,), {"site": site}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mirror"
    finally:
        server.shutdown()
        server.server_close()


def with_md5(release: Release, content: dict[str, bytes], unknown: tuple[str, ...] = ()) -> dict[str, Release]:
    """The registry entry with the checksums of the fixture ``content`` (none for the ``unknown`` files)."""
    files = tuple(replace(f, md5=None if f.name in unknown else md5(content[f.name])) for f in release.files)
    return {release.files[0].name.split(".")[0]: replace(release, files=files)}


def ptb_site(**kwargs) -> Site:
    return Site({f"mirror/{name}": data for name, data in PTB.items()}, **kwargs)


def snli_site(members: dict[str, bytes]) -> Site:
    """The SNLI release as a tar.gz at its registry path, members under ``snli_data/`` and one extra file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {**members, "README": b"not needed\n"}.items():
            info = tarfile.TarInfo(f"./snli_data/{name}" if name != "README" else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return Site({f"mirror/{RELEASES['snli'].archive.path}": buffer.getvalue()})


def config_paths(corpus: str) -> list[Path]:
    """The train/valid/test paths the corpus config reads, resolved with the current ``$SEQVAE_DATA``."""
    data = OmegaConf.load(Path(seqvae.__file__).parent / "conf" / "corpus" / f"{corpus}.yaml").data
    return [Path(data.dir) / data[split] for split in SPLITS]


def test_files_land_where_the_config_reads_them_verified_and_a_second_fetch_is_a_no_op(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQVAE_DATA", str(tmp_path / "data"))
    site = ptb_site()
    with serve(site) as url:
        folder = fetch("ptb", base_url=url, releases=with_md5(RELEASES["ptb"], PTB))
        assert [p.read_bytes() for p in config_paths("ptb")] == list(PTB.values())
        assert folder == tmp_path / "data" / "ptb" and sorted(p.name for p in folder.iterdir()) == sorted(PTB)
        assert capsys.readouterr().out.count("md5 verified") == 3
        assert [path for path, _ in site.requests] == [f"/mirror/{name}" for name in PTB]

        mtimes = [p.stat().st_mtime_ns for p in config_paths("ptb")]
        fetch("ptb", base_url=url, releases=with_md5(RELEASES["ptb"], PTB))
        assert len(site.requests) == 3 and mtimes == [p.stat().st_mtime_ns for p in config_paths("ptb")]
        assert capsys.readouterr().out.count("present, md5 verified") == 3


def test_checksum_mismatch_raises_and_keeps_no_file(tmp_path):
    releases = with_md5(RELEASES["ptb"], {**PTB, "ptb.valid.txt": b"other content\n"})
    with serve(ptb_site()) as url, pytest.raises(FetchError) as err:
        fetch("ptb", tmp_path, base_url=url, releases=releases)
    message = str(err.value)
    assert "ptb.valid.txt" in message and md5(b"other content\n") in message and md5(PTB["ptb.valid.txt"]) in message
    assert sorted(p.name for p in (tmp_path / "ptb").iterdir()) == ["ptb.train.txt"]


def test_partial_download_is_resumed_with_a_range_request(tmp_path):
    train = PTB["ptb.train.txt"]
    (tmp_path / "ptb").mkdir()
    (tmp_path / "ptb" / "ptb.train.txt.part").write_bytes(train[:1234])
    (tmp_path / "ptb" / "ptb.test.txt.part").write_bytes(PTB["ptb.test.txt"])  # complete: the server answers 416
    site = ptb_site()
    with serve(site) as url:
        fetch("ptb", tmp_path, base_url=url, releases=with_md5(RELEASES["ptb"], PTB))
    assert ("/mirror/ptb.train.txt", "bytes=1234-") in site.requests
    assert ("/mirror/ptb.valid.txt", None) in site.requests
    assert [(tmp_path / "ptb" / name).read_bytes() for name in PTB] == list(PTB.values())
    assert not list((tmp_path / "ptb").glob("*.part"))


def test_a_server_that_ignores_range_restarts_the_download(tmp_path):
    (tmp_path / "ptb").mkdir()
    (tmp_path / "ptb" / "ptb.train.txt.part").write_bytes(b"stale bytes of another file")
    site = ptb_site(ranges=False)
    with serve(site) as url:
        fetch("ptb", tmp_path, base_url=url, releases=with_md5(RELEASES["ptb"], PTB))
    assert site.requests[0] == ("/mirror/ptb.train.txt", "bytes=27-")
    assert (tmp_path / "ptb" / "ptb.train.txt").read_bytes() == PTB["ptb.train.txt"]


def test_archive_members_are_extracted_renamed_and_the_archive_removed(tmp_path, capsys):
    releases = with_md5(RELEASES["snli"], SNLI, unknown=("snli.train.txt",))
    with serve(snli_site(SNLI)) as url:
        folder = fetch("snli", tmp_path, base_url=url, releases=releases)
    assert sorted(p.name for p in folder.iterdir()) == sorted(SNLI)
    assert [(folder / name).read_bytes() for name in SNLI] == list(SNLI.values())
    out = capsys.readouterr().out
    assert f"snli.train.txt: md5 {md5(SNLI['snli.train.txt'])} (not verified" in out
    assert out.count("md5 verified") == 2


def test_archive_problems_raise_and_remove_the_archive(tmp_path):
    releases = with_md5(RELEASES["snli"], SNLI)
    with serve(snli_site({"snli.train.txt": SNLI["snli.train.txt"]})) as url, pytest.raises(FetchError, match="lacks"):
        fetch("snli", tmp_path, base_url=url, releases=releases)
    assert not (tmp_path / "snli" / "snli_data.tar.gz").exists()

    with serve(snli_site({**SNLI, "snli.test.txt": b"changed\n"})) as url, pytest.raises(FetchError) as err:
        fetch("snli", tmp_path, base_url=url, releases=releases)
    assert "snli.test.txt: md5 mismatch" in str(err.value)
    assert sorted(p.name for p in (tmp_path / "snli").iterdir()) == ["snli.train.txt", "snli.valid.txt"]


def test_unknown_corpus_network_failure_and_web_pages_are_clear_errors(tmp_path):
    with pytest.raises(FetchError, match="unknown corpus 'wiki'; known: ptb, snli, yahoo, yelp"):
        fetch("wiki", tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(FetchError, match=rf"download of {dead}/ptb.train.txt failed: .*rerunning resumes"):
        fetch("ptb", tmp_path, base_url=dead)
    with serve(ptb_site(content_type="text/html")) as url, pytest.raises(FetchError, match="web page"):
        fetch("ptb", tmp_path, base_url=url)


def test_cli_data_fetch(tmp_path, monkeypatch, capsys):
    with serve(ptb_site()) as url:
        monkeypatch.setitem(RELEASES, "ptb", replace(with_md5(RELEASES["ptb"], PTB)["ptb"], base_url=url))
        main(["data", "fetch", "ptb", "--dir", str(tmp_path)])
    assert [(tmp_path / "ptb" / name).read_bytes() for name in PTB] == list(PTB.values())
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["data", "fetch", "ptb", "--dir", str(tmp_path / "again")])
    assert stop.value.code == 1 and "seqvae data: error: download of http://127.0.0.1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "fetch", "wiki"])
    assert "invalid choice: 'wiki'" in capsys.readouterr().err
