"""Loading checkpoints: nothing in a file runs, bad files are one-line errors, earlier versions' files still load."""

import json

import pytest
import torch
from conftest import command_error, tiny_config

from seqvae.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from seqvae.training.run import fit

COMMANDS = {
    "evaluate": [],
    "sample": [],
    "reconstruct": ["the chef cooked ."],
    "probe": [],
    "saliency": ["--json", "out.json"],
    "drop-profile": ["--out", "profile"],
    "interpolate": ["the chef cooked .", "the team lost ."],
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from conftest import write_small_corpus

    root = tmp_path_factory.mktemp("ckpt")
    corpus = write_small_corpus(root / "corpus")
    return fit(tiny_config(corpus, max_epochs=1), root / "run")


class _Payload:
    """Unpickling this object would create ``path``: the stand-in for a checkpoint that runs code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": {"config": {}}, "vocab": [], "state_dict": _Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match="nothing in it was run"):
        load_checkpoint(evil)
    assert "nothing in it was run" in command_error(capsys, ["sample", str(evil)])
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.ckpt", None, "no checkpoint file at"),
        ("empty.ckpt", b"", "is not a checkpoint"),
        ("random.ckpt", bytes(range(256)) * 40, "is not a checkpoint"),
        ("text.ckpt", b"the chef cooked a soup .\n" * 20, "is not a checkpoint"),
    ],
)
def test_files_that_are_not_checkpoints_are_one_line_errors_in_every_command(
    tmp_path, capsys, monkeypatch, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)
    monkeypatch.chdir(tmp_path)
    for command, extra in COMMANDS.items():
        assert message in command_error(capsys, [command, str(path), *extra]), command


@pytest.mark.slow
def test_a_truncated_checkpoint_and_a_foreign_one_are_clear_errors(tiny_run, tmp_path):
    whole = open(tiny_run["best_checkpoint"], "rb").read()
    (tmp_path / "cut.ckpt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="not a checkpoint, or is truncated"):
        load_checkpoint(tmp_path / "cut.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(CheckpointError, match="not a seqvae checkpoint: it lacks hyper_parameters, vocab"):
        load_checkpoint(tmp_path / "foreign.ckpt")


@pytest.mark.slow
def test_a_checkpoint_of_an_earlier_version_saying_adversarial_loads_as_awd(tiny_run, tmp_path):
    contents = torch.load(tiny_run["best_checkpoint"], weights_only=True)
    contents["hyper_parameters"]["config"]["dropout"]["method"] = "adversarial"
    del contents["hyper_parameters"]["config"]["train"]["compile"]  # a key the schema gained since
    torch.save(contents, tmp_path / "old.ckpt")
    old, new = load_checkpoint(tmp_path / "old.ckpt"), load_checkpoint(tiny_run["best_checkpoint"])
    assert old.cfg.dropout.method == "awd" and old.cfg == new.cfg
    before, after = old.model.state_dict(), new.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow
def test_a_finished_run_saved_as_adversarial_is_reused_not_retrained(tiny_run):
    out = tiny_run["out_dir"]
    config_path = f"{out}/config.json"
    saved = json.loads(open(config_path).read())
    saved["dropout"]["method"] = "adversarial"
    open(config_path, "w").write(json.dumps(saved))
    corpus = saved["data"]["dir"]
    assert fit(tiny_config(corpus, max_epochs=1), out) == tiny_run
