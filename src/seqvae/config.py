"""Typed run configuration: the schema behind the Hydra configs in ``seqvae/conf``.

Every default is written once, here: those of SPEC sections 1-3 (the paper's model and training). The YAML
files of ``seqvae/conf`` hold only what differs from them: a corpus its files (and, for the small embedded
corpus, its training length), a method its name, a scale its sizes, an experiment its grid. Each section
checks its values when built, with the checks of the module that owns the value, so a bad override fails with
a message naming the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from seqvae.models.cnn import SCNN_CHANNELS, SCNN_DILATIONS, SCNN_KERNEL, check_cnn_settings
from seqvae.models.decoders import DECODERS, decoders_with
from seqvae.models.dropout import METHODS
from seqvae.models.dropout.awd import check_awd_settings
from seqvae.models.dropout.base import check_rate
from seqvae.models.init import INITS
from seqvae.models.transformer import check_transformer_settings
from seqvae.models.vae import DROP_TO
from seqvae.objectives.annealing import KLSchedule
from seqvae.objectives.kl import FREE_BITS_OVER
from seqvae.optimizers import ADV_LR_SCHEDULES, OPTIMIZERS

# Values that configs saved by earlier versions hold under another name: key -> {old: new}.
RENAMED_VALUES = {("dropout", "method"): {"adversarial": "awd"}}


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass
class DataConfig:
    """Corpus files and batching. ``dir: null`` selects the embedded default corpus.

    A split file may name a range of its sentences, ``FILE[a:b]`` (derived corpora such as ``yahoo-small``).
    ``labelled: null`` detects a ``label<TAB>`` prefix; ``unk_token`` is the files' own unknown word (``_UNK``).
    """

    name: str = "embedded"
    dir: str | None = None
    train: str = "train.txt"
    valid: str = "valid.txt"
    test: str = "test.txt"
    labelled: bool | None = False
    unk_token: str | None = None
    lowercase: bool = False
    max_vocab: int | None = None
    min_count: int = 1
    max_len: int | None = None
    batch_size: int = 32
    eval_batch_size: int = 128

    def __post_init__(self):
        _require(self.batch_size >= 1, f"data.batch_size must be >= 1, got {self.batch_size}")
        _require(self.eval_batch_size >= 1, f"data.eval_batch_size must be >= 1, got {self.eval_batch_size}")
        _require(self.max_len is None or self.max_len >= 1, f"data.max_len must be >= 1, got {self.max_len}")


@dataclass
class ModelConfig:
    """Network sizes, decoder kind (:data:`seqvae.models.decoders.DECODERS`) and initialisation.

    The Double-LSTM options of the original AWD code: ``update_cells: 2`` adds a second update cell fed by the
    first's output, ``state_dropout`` drops out ``h`` and ``c`` after each update cell in training. ``init``:
    ``torch`` (PyTorch's defaults) or ``small-uniform`` (:data:`seqvae.models.init.INITS`).

    The ``transformer`` decoder's settings (:class:`seqvae.models.transformer.TransformerDecoder`, ``d_model =
    dec_hidden``, which ``tf_heads`` must divide): ``tf_layers``, ``tf_heads``, ``tf_ff`` (feed-forward size),
    ``tf_dropout``, ``tf_positions`` (``learned`` or ``sinusoidal``), ``tf_max_len`` (the most decoder inputs) and
    ``latent_injection`` (``memory``, ``embedding`` or ``both``, after Optimus); the other decoders ignore them.

    The literature's remedies for posterior collapse: ``bn_gamma`` (BN-VAE, Zhu et al. 2020: batch normalisation
    of the posterior means with this fixed scale; ``null``: off), ``skip_z`` (Skip-VAE, Dieng et al. 2019: ``z``
    into the output layer too, of the decoders whose :data:`seqvae.models.decoders.DECODER_OPTIONS` have it), and
    the ``cnn`` decoder's settings (Yang et al. 2017's dilated CNN, defaults their SCNN, :mod:`seqvae.models.cnn`):
    ``cnn_channels`` (its hidden size, in place of ``dec_hidden``), ``cnn_kernel``, ``cnn_dilations`` (one residual
    block each) and ``cnn_dropout``, which the other decoders ignore.
    """

    emb_dim: int = 512
    enc_hidden: int = 1024
    dec_hidden: int = 1024
    z_dim: int = 32
    decoder: str = "double-lstm"
    update_cells: int = 1
    state_dropout: float = 0.0
    init: str = "torch"
    tf_layers: int = 4
    tf_heads: int = 4
    tf_ff: int = 1024
    tf_dropout: float = 0.1
    tf_positions: str = "learned"
    tf_max_len: int = 512
    latent_injection: str = "memory"
    bn_gamma: float | None = None
    skip_z: bool = False
    cnn_channels: int = SCNN_CHANNELS
    cnn_kernel: int = SCNN_KERNEL
    cnn_dilations: list[int] = field(default_factory=lambda: list(SCNN_DILATIONS))
    cnn_dropout: float = 0.0

    def __post_init__(self):
        _require(self.decoder in DECODERS, f"model.decoder must be one of {sorted(DECODERS)}, got {self.decoder!r}")
        for key in ("emb_dim", "enc_hidden", "dec_hidden", "z_dim"):
            _require(getattr(self, key) >= 1, f"model.{key} must be >= 1, got {getattr(self, key)}")
        _require(self.update_cells in (1, 2), f"model.update_cells must be 1 or 2, got {self.update_cells}")
        _require(0.0 <= self.state_dropout < 1.0, f"model.state_dropout must be in [0, 1), got {self.state_dropout}")
        _require(
            self.decoder in decoders_with("update_cells") or (self.update_cells == 1 and self.state_dropout == 0.0),
            f"model.update_cells and model.state_dropout are options of the Double-LSTM decoders "
            f"{decoders_with('update_cells')}, not of {self.decoder!r}",
        )
        _require(self.init in INITS, f"model.init must be one of {sorted(INITS)}, got {self.init!r}")
        check_transformer_settings(
            self.dec_hidden if self.decoder == "transformer" else None,
            self.tf_layers,
            self.tf_heads,
            self.tf_ff,
            self.tf_dropout,
            self.tf_positions,
            self.tf_max_len,
            self.latent_injection,
            prefix="model.",
        )
        _require(self.bn_gamma is None or self.bn_gamma > 0, f"model.bn_gamma must be > 0 or null, got {self.bn_gamma}")
        _require(
            not self.skip_z or self.decoder in decoders_with("skip_z"),
            f"model.skip_z is an option of the decoders {decoders_with('skip_z')}, not of {self.decoder!r}",
        )
        check_cnn_settings(self.cnn_channels, self.cnn_kernel, self.cnn_dilations, self.cnn_dropout, "model.")


@dataclass
class DropoutConfig:
    """Decoder-input dropout: ``method`` (:data:`seqvae.models.dropout.METHODS`), rate ``R`` and AWD settings.

    AWD options of the original code: ``score_scale`` fixes the adversary's score sigma (``null``: learned);
    ``score_bias: false`` takes the bias out of the score head; ``adv_optim`` / ``adv_lr`` give the adversary its
    own optimiser and learning rate (``null``: the VAE's), which ``adv_lr_schedule`` decays with the VAE's
    (``decay``) or keeps (``constant``, :data:`seqvae.optimizers.ADV_LR_SCHEDULES`).
    """

    method: str = "awd"
    rate: float = 0.3
    exact_k: bool = False
    drop_to: str = "zero"
    tau: float = 1.0
    lam: float = 1.0
    adv_emb_dim: int = 256
    adv_hidden_dim: int = 256
    score_scale: float | None = None
    score_bias: bool = True
    adv_optim: str | None = None
    adv_lr: float | None = None
    adv_lr_schedule: str = "decay"

    def __post_init__(self):
        _require(self.method in METHODS, f"unknown dropout.method {self.method!r}; choose one of {list(METHODS)}")
        check_rate(self.rate, "dropout.rate (R)")
        _require(self.drop_to in DROP_TO, f"dropout.drop_to must be one of {DROP_TO}, got {self.drop_to!r}")
        check_awd_settings(self.tau, self.lam, self.score_scale, prefix="dropout.")
        adv_optim = self.adv_optim
        _require(
            adv_optim is None or adv_optim in OPTIMIZERS,
            f"dropout.adv_optim must be null or one of {sorted(OPTIMIZERS)}, got {adv_optim!r}",
        )
        _require(self.adv_lr is None or self.adv_lr > 0, f"dropout.adv_lr must be > 0, got {self.adv_lr}")
        _require(
            self.adv_lr_schedule in ADV_LR_SCHEDULES,
            f"dropout.adv_lr_schedule must be one of {list(ADV_LR_SCHEDULES)}, got {self.adv_lr_schedule!r}",
        )


@dataclass
class OptimConfig:
    """Optimiser (:data:`seqvae.optimizers.OPTIMIZERS`), clipping, per-epoch lr decay, Polyak/EMA decay."""

    name: str = "sgd"
    lr: float = 1.0
    lr_decay: float = 0.96
    grad_clip: float = 5.0
    ema_decay: float = 0.9995

    def __post_init__(self):
        _require(self.name in OPTIMIZERS, f"optim.name must be one of {sorted(OPTIMIZERS)}, got {self.name!r}")
        _require(self.lr > 0, f"optim.lr must be > 0, got {self.lr}")
        _require(0 < self.lr_decay <= 1, f"optim.lr_decay must be in (0, 1], got {self.lr_decay}")
        _require(self.grad_clip > 0, f"optim.grad_clip must be > 0, got {self.grad_clip}")
        _require(0 <= self.ema_decay < 1, f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclass
class AnnealConfig(KLSchedule):
    """KL weight schedule (:class:`seqvae.objectives.KLSchedule`) and free bits per dimension, over the batch
    (Kingma et al. 2016) or per sentence (Li et al. 2019; :func:`seqvae.objectives.kl.free_bits_kl`)."""

    free_bits: float = 0.0
    free_bits_over: str = "batch"

    def __post_init__(self):
        super().__post_init__()
        _require(self.free_bits >= 0, f"anneal.free_bits must be >= 0, got {self.free_bits}")
        _require(
            self.free_bits_over in FREE_BITS_OVER,
            f"anneal.free_bits_over must be one of {FREE_BITS_OVER}, got {self.free_bits_over!r}",
        )


@dataclass
class TrainConfig:
    """Trainer settings: length, early stopping, hardware, logging, checkpoints.

    ``compile`` runs the ``double-lstm`` decoder's recurrence steps through ``torch.compile`` (a C++ compiler on
    the CPU, Triton on CUDA); it changes speed, not the function computed.

    ``pretrain_autoencoder`` runs FBP's first stage (Li et al. 2019) before the run: the same config as an
    autoencoder (KL weight 0, no free bits, selected by validation reconstruction loss) in ``OUT_DIR/pretrain``;
    the run then starts from its encoder and a freshly initialised decoder (:func:`seqvae.training.run.fit`).

    ``aggressive`` trains the inference network aggressively (He et al. 2019, :mod:`seqvae.training.aggressive`)
    until a validation's MI does not rise: before each batch's decoder update, up to ``aggressive_max_inner``
    encoder updates, stopped when the loss per token of the last ``aggressive_check_every`` of them is not below
    that of the ones before.
    """

    max_epochs: int = 100
    max_steps: int = -1
    patience: int = 5
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    log_every_n_steps: int = 50
    checkpoint_every_n_steps: int = 0
    limit_train_batches: float = 1.0
    limit_val_batches: float = 1.0
    progress_bar: bool = True
    resume: bool = True
    compile: bool = False
    pretrain_autoencoder: bool = False
    aggressive: bool = False
    aggressive_max_inner: int = 100
    aggressive_check_every: int = 15

    def __post_init__(self):
        for key in ("max_epochs", "patience", "aggressive_max_inner", "aggressive_check_every"):
            _require(getattr(self, key) >= 1, f"train.{key} must be >= 1, got {getattr(self, key)}")


@dataclass
class Config:
    """A whole run: everything needed to reproduce it from its seed."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    dropout: DropoutConfig = field(default_factory=DropoutConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    anneal: AnnealConfig = field(default_factory=AnnealConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    out_dir: str = "runs/${data.name}-${dropout.method}-seed${seed}"

    def __post_init__(self):
        _require(
            not self.train.compile or self.model.decoder == "double-lstm",
            f"train.compile compiles the double-lstm decoder's recurrence; model.decoder is {self.model.decoder!r}",
        )

    @classmethod
    def from_dict(cls, values: Any) -> Config:
        """Validated config from a dict or DictConfig (unknown keys are an error)."""
        merged = OmegaConf.merge(OmegaConf.structured(cls), values)
        return OmegaConf.to_object(merged)

    @classmethod
    def from_saved(cls, values: dict) -> Config:
        """:meth:`from_dict` of a config saved by this or an earlier version (``config.json``, a checkpoint's):
        values renamed since (:data:`RENAMED_VALUES`) are read under their new names."""
        return cls.from_dict(upgrade_saved(values))

    def to_dict(self) -> dict:
        """Plain, resolved dict (for checkpoints and JSON)."""
        return asdict(self)


def upgrade_saved(values: dict) -> dict:
    """A copy of a saved config (plain dict) with :data:`RENAMED_VALUES` renamed; keys added to the schema since
    it was saved take their defaults when it is built."""
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for (section, key), renames in RENAMED_VALUES.items():
        old = values.get(section, {}).get(key)
        if isinstance(old, str) and old in renames:
            values[section][key] = renames[old]
    return values


def register_schema() -> None:
    """Make :class:`Config` the schema ``base_config`` that ``seqvae/conf/config.yaml`` extends."""
    ConfigStore.instance().store(name="base_config", node=Config)


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The config ``seqvae train OVERRIDES`` would run, without running it (for scripts and notebooks). Hydra's
    node is read as in a run (the ``out_dir`` names the chosen method), then left out."""
    register_schema()
    with initialize_config_module(config_module="seqvae.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return Config.from_dict(cfg)
