"""Corpus reading, vocabulary, batching and the embedded corpus."""

import pytest

from seqvae.analysis.probe import split_labels
from seqvae.config import DataConfig, compose_config
from seqvae.data import (
    BucketBatchSampler,
    CorpusError,
    EpochShuffle,
    Vocabulary,
    default_corpus_dir,
    make_batch,
    read_split,
)
from seqvae.data.corpus import parse_split_file, read_labels_tsv
from seqvae.data.datamodule import TextDataModule, load_split, split_path


def test_vocabulary_specials_min_count_and_max_size():
    sents = [["a", "b", "a"], ["c", "a", "b"], ["d"]]
    v = Vocabulary.build(sents, min_count=2)
    assert v.words == ["<pad>", "<unk>", "<s>", "</s>", "a", "b"]
    assert v.encode(["a", "zzz", "b"]) == [4, v.unk_id, 5]
    assert Vocabulary.build(sents, max_size=5).words[4:] == ["a"]
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(sents, min_count=0)


def test_literal_unk_in_text_maps_to_unk_id():
    v = Vocabulary.build([["<unk>", "x"]])
    assert v.encode(["<unk>"]) == [v.unk_id] and "<unk>" not in v.words[4:]


def test_read_split_skips_blank_lines_and_handles_labels(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("1\tthe food was good\n\n2\tbad service .\n", encoding="utf-8")
    split = read_split(f, labelled=True)
    assert split.sentences == [["the", "food", "was", "good"], ["bad", "service", "."]]
    assert split.labels == ["1", "2"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="corpus file not found"):
        read_split(tmp_path / "nope.txt")


def test_empty_corpus_is_a_clear_error(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no sentences"):
        read_split(f)


def test_wrong_encoding_names_the_line(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("ok line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1.txt:2: not valid UTF-8"):
        read_split(f)


def test_labelled_line_without_tab_is_an_error(tmp_path):
    f = tmp_path / "y.txt"
    f.write_text("3\tfine\nno label here\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"y.txt:2: expected 'label<TAB>sentence'"):
        read_split(f, labelled=True)


def test_make_batch_layout():
    b = make_batch([(0, [5, 6]), (1, [7, 8, 9])])
    assert b.tokens.tolist() == [[2, 5, 6, 3, 0], [2, 7, 8, 9, 3]]
    assert b.lengths.tolist() == [2, 3] and b.num_tokens == 7


def test_bucket_sampler_covers_everything_once_and_is_reproducible():
    lengths = [(i * 7919) % 31 + 1 for i in range(1000)]
    sampler = BucketBatchSampler(EpochShuffle(1000, seed=3), 32, lengths=lengths)
    sampler.sampler.set_epoch(2)  # what Lightning calls at each epoch start
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(1000))
    assert first == list(sampler)
    sampler.resume(2, 5)
    assert list(sampler) == first[5:]
    sampler.sampler.set_epoch(3)
    assert first != list(sampler)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 3, "batches hold sentences of similar length"


def test_embedded_corpus_is_shipped_with_labels():
    root = default_corpus_dir()
    for split in ("train", "valid", "test"):
        sents = read_split(root / f"{split}.txt").sentences
        labels = read_labels_tsv(root / f"{split}.labels.tsv")
        assert len(sents) == len(labels) >= 1000
        assert set(labels[0]) == {"topic", "sentiment"}


def test_datamodule_max_len_and_vocab(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("a b c\na b\na b c d e f\n", encoding="utf-8")
    dm = TextDataModule(DataConfig(name="t", dir=str(tmp_path), max_len=3))
    assert len(dm.split("train")) == 2 and len(dm.split("test")) == 3
    assert len(dm.vocab) == 4 + 6
    batches = list(dm.val_dataloader())
    assert sum(b.lengths.numel() for b in batches) == 3


def test_label_prefix_is_detected_not_assumed(tmp_path):
    labelled, plain = tmp_path / "labelled.txt", tmp_path / "plain.txt"
    labelled.write_text("3\twhat is a cat ?\n\n1\ta dog .\n", encoding="utf-8")
    plain.write_text("what is a cat ?\n1\ta tab inside\n", encoding="utf-8")
    assert read_split(labelled, labelled=None).labels == ["3", "1"]
    assert read_split(labelled, labelled=None).sentences == [["what", "is", "a", "cat", "?"], ["a", "dog", "."]]
    detected = read_split(plain, labelled=None)
    assert detected.labels is None and detected.sentences[1] == ["1", "a", "tab", "inside"]


def test_the_files_own_unknown_word_becomes_unk(tmp_path):
    f = tmp_path / "yahoo.txt"
    f.write_text("what is _UNK ?\n_UNK _UNK\n", encoding="utf-8")
    split = read_split(f, unk_token="_UNK")
    assert split.sentences == [["what", "is", "<unk>", "?"], ["<unk>", "<unk>"]]
    vocab = Vocabulary.build(split.sentences)
    assert "_UNK" not in vocab.words and vocab.encode(split.sentences[1]) == [vocab.unk_id] * 2


def test_a_split_can_be_a_range_of_a_file(tmp_path):
    assert parse_split_file("test.txt") == ("test.txt", slice(None))
    assert parse_split_file("test.txt[:2]") == ("test.txt", slice(None, 2))
    assert parse_split_file("a[1].txt[2:]") == ("a[1].txt", slice(2, None))
    (tmp_path / "test.txt").write_text("a\n\nb\nc\nd\n", encoding="utf-8")
    (tmp_path / "test.labels.tsv").write_text("f\n1\n2\n3\n4\n", encoding="utf-8")
    cfg = DataConfig(name="t", dir=str(tmp_path), valid="test.txt[:2]", test="test.txt[2:]")
    assert load_split(cfg, "valid").sentences == [["a"], ["b"]], "blank lines do not count"
    assert load_split(cfg, "test").sentences == [["c"], ["d"]]
    assert split_labels(cfg, "test") == {"f": ["3", "4"]}
    with pytest.raises(CorpusError, match=r"no sentences: .*test.txt\[9:\] \(4 sentences\)"):
        load_split(DataConfig(name="t", dir=str(tmp_path), test="test.txt[9:]"), "test")


@pytest.mark.parametrize("corpus", ["yahoo-small", "snli-small"])
def test_reduced_corpora_train_on_valid_and_halve_test(corpus):
    data = compose_config([f"corpus={corpus}"]).data
    stem = corpus.removesuffix("-small")
    assert data.name == corpus
    assert (data.train, data.valid, data.test) == (
        f"{stem}.valid.txt",
        f"{stem}.test.txt[:5000]",
        f"{stem}.test.txt[5000:]",
    )
    if not split_path(data, "test").is_file():
        pytest.skip(f"{split_path(data, 'test')} is not on this machine")
    sizes = [len(load_split(data, split).sentences) for split in ("train", "valid", "test")]
    assert sizes == [10000, 5000, 5000]
    if corpus == "yahoo-small":
        assert not any("_UNK" in s for s in load_split(data, "valid").sentences)
