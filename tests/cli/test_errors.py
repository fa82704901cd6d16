"""Careless and hostile input to every command: one line on stderr naming the problem, a non-zero exit status,
checked before any work, and no data lost."""

import logging

import pytest
from conftest import command_error, tiny_config, write_small_corpus

from seqvae.cli import main
from seqvae.data.datamodule import TextDataModule, warn_long_sentences
from seqvae.training.run import fit

TINY = ["model.emb_dim=16", "model.enc_hidden=32", "model.dec_hidden=32", "model.z_dim=8", "train.max_epochs=1"]
TINY += ["dropout.adv_emb_dim=16", "dropout.adv_hidden_dim=16", "train.progress_bar=false"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("errors")
    corpus = write_small_corpus(root / "corpus")
    summary = fit(tiny_config(corpus, max_epochs=1), root / "run")
    return summary["best_checkpoint"], corpus


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sample", "-n", "-5"], "argument -n/--num: must be >= 1, got -5"),
        (["sample", "-n", "0"], "must be >= 1, got 0"),
        (["sample", "--temperature", "0"], "argument --temperature: must be > 0, got 0.0"),
        (["sample", "--max-len", "0"], "argument --max-len: must be >= 1"),
        (["sample", "--top-p", "0"], "argument --top-p: must be in (0, 1], got 0.0"),
        (["reconstruct", "a b", "--top-k", "-1"], "argument --top-k: must be >= 0, got -1"),
        (["interpolate", "a b", "c d", "--length-penalty", "-1"], "argument --length-penalty: must be >= 0"),
        (["sample", "--beam-width", "0"], "argument --beam-width: must be >= 1"),
        (["sample", "--decoding", "nucleus"], "argument --decoding: invalid choice: 'nucleus'"),
        (["evaluate", "--max-sentences", "0"], "argument --max-sentences: must be >= 1"),
        (["evaluate", "--samples", "-3"], "argument --samples: must be >= 0, got -3"),
        (["encode", "FILE", "--out", "z.npy", "--batch-size", "0"], "argument --batch-size: must be >= 1"),
        (["saliency", "--json", "s.json", "--samples", "0"], "argument --samples: must be >= 1"),
        (["saliency", "--json", "s.json", "-n", "-5"], "argument -n/--num: must be >= 1, got -5"),
        (["probe", "--max-fit", "-900"], "argument --max-fit: must be >= 2"),
        (["probe", "--max-fit", "0"], "argument --max-fit: must be >= 2"),
        (["drop-profile", "--out", "d", "-n", "0"], "argument -n/--num: must be >= 1"),
        (["interpolate", "a b", "c d", "--steps", "1"], "argument --steps: must be >= 2"),
        (["sample", "-n", "many"], "expected an integer, got 'many'"),
    ],
)
def test_counts_and_values_that_make_no_sense_are_refused_before_loading(args, message, capsys):
    command, rest = args[0], args[1:]
    line = command_error(capsys, [command, "never-read.ckpt", *rest], status=2)
    assert line.startswith(f"seqvae {command}: error: ") and message in line


@pytest.mark.slow
def test_outputs_and_inputs_are_checked_before_the_work(run, tmp_path, capsys):
    ckpt, corpus = run
    (tmp_path / "a-file").write_text("keep me")
    assert "is a file, not a folder" in command_error(capsys, ["drop-profile", ckpt, "--out", str(tmp_path / "a-file")])
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert "the folder" in command_error(
        capsys, ["encode", ckpt, str(corpus / "valid.txt"), "--out", str(tmp_path / "no" / "z.npy")]
    )
    assert "--data-dir" in command_error(capsys, ["evaluate", ckpt, "--data-dir", str(tmp_path / "absent")])
    (tmp_path / "empty.txt").write_text("\n\n")
    assert "no sentences" in command_error(capsys, ["saliency", ckpt, str(tmp_path / "empty.txt"), "--json", "x"])


@pytest.mark.slow
def test_sentences_of_unknown_words_are_reported_and_all_unknown_is_an_error(run, capsys):
    ckpt, _ = run
    assert "no word of 'zyx qwv' is in the model's vocabulary" in command_error(
        capsys, ["reconstruct", ckpt, "zyx qwv"]
    )
    main(["reconstruct", ckpt, "the zyx chef cooked"])
    captured = capsys.readouterr()
    assert "note: 1 of 4 words are not in the vocabulary and are read as <unk>: zyx" in captured.err
    assert "  -> " in captured.out


def test_train_config_errors_are_one_line(small_corpus, tmp_path, capsys):
    base = [f"data.dir={small_corpus}", f"out_dir={tmp_path / 'run'}", *TINY]
    assert "dropout.rate (R) must be in [0, 1), got 1.5" in command_error(capsys, ["train", *base, "dropout.rate=1.5"])
    assert "method" in command_error(capsys, ["train", *base, "method=dropconnect"])
    assert "optim.name must be one of ['adam', 'sgd']" in command_error(capsys, ["train", *base, "optim.name=rmsprop"])
    assert "scale= chooses a sweep's protocol" in command_error(capsys, ["train", *base, "scale=cpu"])
    (tmp_path / "file").write_text("")
    assert "is a file, not a folder" in command_error(
        capsys, ["train", f"data.dir={small_corpus}", f"out_dir={tmp_path / 'file'}", *TINY]
    )
    assert "train.limit_val_batches=0.01 leaves none of the 1 valid batches" in command_error(
        capsys, ["train", *base, "train.limit_val_batches=0.01"]
    )
    assert "corpus file not found" in command_error(
        capsys, ["train", f"data.dir={tmp_path / 'nowhere'}", f"out_dir={tmp_path / 'r2'}", *TINY]
    )


def test_unknown_command_is_one_line(capsys):
    assert command_error(capsys, ["trian"], status=2) == "seqvae: error: unknown command 'trian' (see seqvae --help)"


def test_training_lines_far_beyond_the_length_distribution_are_reported(small_corpus, caplog):
    lengths = [10] * 200 + [20_000]
    assert warn_long_sentences(lengths, None) == 1
    assert warn_long_sentences(lengths, 100) == 0, "data.max_len leaves it out: nothing to warn about"
    train = small_corpus / "train.txt"
    train.write_text(train.read_text() + " ".join(["word"] * 5000) + "\n")
    with caplog.at_level(logging.WARNING, logger="seqvae.data.datamodule"):
        TextDataModule(tiny_config(small_corpus).data)
    assert "1 training sentence(s) longer than" in caplog.text and "data.max_len=" in caplog.text
