"""Corpora, vocabulary and batching."""

from seqvae.data.batching import Batch, BucketBatchSampler, EpochShuffle, SentenceDataset, make_batch
from seqvae.data.corpus import CorpusError, Split, default_corpus_dir, read_labels_tsv, read_split
from seqvae.data.vocab import Vocabulary

__all__ = [
    "Batch",
    "BucketBatchSampler",
    "CorpusError",
    "EpochShuffle",
    "SentenceDataset",
    "Split",
    "Vocabulary",
    "default_corpus_dir",
    "make_batch",
    "read_labels_tsv",
    "read_split",
]
