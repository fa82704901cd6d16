"""Every experiment x scale composes as ``seqvae sweep experiment=E scale=S`` would, and its sweep plan is valid.

Nothing trains. The ``hydra.sweeper`` node is instantiated into the experiment sweeper, whose :class:`SweepSpec`
checks methods, seeds, and grid against factors; then every run of the plan becomes a :class:`Config` with the
overrides the sweeper gives its job (the command line's, the run's, its ``out_dir``).
"""

import copy
import functools
from importlib.resources import files

import pytest
from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from seqvae.config import Config, register_schema
from seqvae.models.dropout import METHODS
from seqvae.sweep.plan import RunSpec, candidates, cells, parse_values
from seqvae.sweep.stages import SweepSpec

CONF = files("seqvae.conf")
SWEEPER = "hydra_plugins.seqvae_sweeper.experiment_sweeper.ExperimentSweeper"
PARSER = OverridesParser.create()


def _names(group: str) -> list[str]:
    """The options of a config group: the ``.yaml`` files of its folder in the package."""
    return sorted(
        entry.name.removesuffix(".yaml") for entry in (CONF / group).iterdir() if entry.name.endswith(".yaml")
    )


EXPERIMENTS = _names("experiment")
SCALES = _names("scale")


def test_the_config_folders_hold_experiments_and_scales():
    assert EXPERIMENTS and SCALES


def _compose(overrides: list[str]) -> DictConfig:
    """The config ``seqvae sweep OVERRIDES`` composes, with its ``hydra`` node."""
    register_schema()
    with initialize_config_module(config_module="seqvae.conf", version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def _overridden(base: DictConfig, overrides: list[str], groups: dict[str, str]) -> Config:
    """``base`` with value ``overrides`` applied as Hydra's compose applies them (parsed by its grammar, merged by
    key). Config groups are chosen by composing: an override of a group must name the one ``base`` was composed
    with. A full compose per run (70 ms) would take most of a minute over all the experiments' runs."""
    cfg = copy.deepcopy(base)
    for override in PARSER.parse_overrides(overrides):
        key, value = override.key_or_group, override.value()
        assert not override.is_sweep_override(), override
        if key in groups:
            assert value == groups[key], (override, groups)
        else:
            OmegaConf.update(cfg, key, value, merge=True)
    return Config.from_dict(cfg)


def _same(held, text: str) -> bool:
    """Whether the config value ``held`` is the command-line value ``text`` (``1e-3`` is ``0.001``)."""
    try:
        return float(held) == float(text)
    except (TypeError, ValueError):
        return str(held) == text


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_into_a_valid_sweep_plan(experiment, scale):
    command = [f"experiment={experiment}", f"scale={scale}"]
    cfg = _compose(command)
    choices = cfg.hydra.runtime.choices
    assert (choices.experiment, choices.scale) == (experiment, scale)
    assert cfg.hydra.sweeper._target_ == SWEEPER

    # The sweeper Hydra builds from the node; its SweepSpec checks methods, seeds, and grid against factors.
    # (Hydra's plugin discovery may load the plugin module twice: compare the class by name, not identity.)
    sweeper = instantiate(cfg.hydra.sweeper)
    assert f"{type(sweeper).__module__}.{type(sweeper).__qualname__}" == SWEEPER
    spec = sweeper.spec
    assert isinstance(spec, SweepSpec) and (spec.experiment, spec.scale) == (experiment, scale)
    assert spec.methods and set(spec.methods) <= set(_names("method")) and len(set(spec.methods)) == len(spec.methods)
    assert spec.seeds and len(set(spec.seeds)) == len(spec.seeds)
    searched = {k: v for m in spec.methods for k, v in spec.grid_of(m).items()}
    for key, values in {**searched, **spec.factors}.items():
        assert OmegaConf.select(cfg, key, default=None) is not None, f"{key} is not a config key"
        assert parse_values(values)

    for method in spec.methods:
        # The search stage (every cell's grid candidates, first seed), and the seeds stage for one candidate.
        # A matched method searches nothing: it runs with a candidate of its reference's matched keys.
        match = spec.matched.get(method)
        if match and "sweep" in match:  # matched to another experiment's choice: its grid, at this scale
            other = instantiate(_compose([f"experiment={match['sweep']}", f"scale={scale}"]).hydra.sweeper).spec
            grid = {k: other.grid_of(match["method"])[k] for k in match["keys"]}
        else:
            grid = {k: spec.grid_of(match["method"])[k] for k in match["keys"]} if match else spec.grid_of(method)
        search = [
            RunSpec(method, factors, params, spec.seeds[0])
            for m, factors in cells(spec.methods, spec.factors)
            if m == method
            for params in candidates(method, grid)
        ]
        assert search, (method, spec.factors, grid)
        runs = [*search, *(RunSpec(method, search[0].factors, search[0].params, s) for s in spec.seeds[1:])]
        # The first run composed in full; the others, which set the same keys, override its values.
        overrides = [[*command, *run.overrides(), f"out_dir='{run.run_dir(sweeper.root)}'"] for run in runs]
        composed = _compose(overrides[0])
        base = copy.deepcopy(composed)
        with open_dict(base):
            del base["hydra"]
        assert Config.from_dict(base) == _overridden(base, overrides[0], dict(composed.hydra.runtime.choices))
        for run, run_overrides in zip(runs, overrides, strict=True):
            config = _overridden(base, run_overrides, dict(composed.hydra.runtime.choices))
            assert config.dropout.method in METHODS and method not in METHODS or config.dropout.method == method
            assert config.seed == run.seed and config.out_dir == str(run.run_dir(sweeper.root))
            for key, value in (*run.factors, *run.params):
                held = functools.reduce(getattr, key.split("."), config)
                assert _same(held, value), (key, value, held)
