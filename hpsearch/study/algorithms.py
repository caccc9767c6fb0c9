"""Sampler and pruner objects from a study's `sampler:` and `pruner:` sections."""

from __future__ import annotations

import importlib.util

import optuna

from hpsearch.errors import UserError
from hpsearch.study.config import PrunerConfig, SamplerConfig
from hpsearch.study.history import BoundedHistorySampler


def make_sampler(config: SamplerConfig, seed: int) -> optuna.samplers.BaseSampler:
    kind, startup = config.type, config.n_startup_trials
    if kind == "tpe":
        # multivariate+group model the conditional optimizer parameters jointly;
        # constant_liar keeps parallel workers from proposing the same point.
        tpe = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup, multivariate=True, group=True, constant_liar=True
        )
        return tpe if config.history is None else BoundedHistorySampler(tpe, config.history)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=seed, n_startup_trials=startup, warn_independent_sampling=False
        )
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if importlib.util.find_spec("torch") is None:
        raise UserError("sampler 'gp' needs PyTorch (pip install torch); or choose tpe, cmaes, qmc")
    return optuna.samplers.GPSampler(
        seed=seed, n_startup_trials=startup, warn_independent_sampling=False
    )


def make_pruner(config: PrunerConfig, epochs: int) -> optuna.pruners.BasePruner:
    pruner = _base_pruner(config, epochs)
    if config.patience is not None and config.type != "none":
        return optuna.pruners.PatientPruner(pruner, patience=config.patience)
    return pruner


def _base_pruner(config: PrunerConfig, epochs: int) -> optuna.pruners.BasePruner:
    kind = config.type
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=config.min_resource,
            max_resource=epochs,
            reduction_factor=config.reduction_factor,
        )
    if kind == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=config.min_resource,
            reduction_factor=config.reduction_factor,
            bootstrap_count=config.bootstrap_count,
        )
    # Our steps are epochs counted from 1; Optuna's warmup counts steps from 0 (it never prunes
    # while step < n_warmup_steps). `n_warmup_steps: W` means W epochs are never judged.
    warmup = config.n_warmup_steps + 1
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=config.n_startup_trials, n_warmup_steps=warmup
        )
    if kind == "percentile":
        return optuna.pruners.PercentilePruner(
            config.percentile, n_startup_trials=config.n_startup_trials, n_warmup_steps=warmup
        )
    if kind == "threshold":
        return optuna.pruners.ThresholdPruner(lower=config.lower, n_warmup_steps=warmup)
    return optuna.pruners.NopPruner()
