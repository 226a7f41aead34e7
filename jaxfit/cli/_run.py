"""Carry out a validated experiment: data, split, vmapped search, refit, held-out score.

Everything here translates the experiment's sections into calls of the functional core
(`data`, `model_selection.make_fit_fns` and `search`, `solvers`); it holds no training
logic of its own (ARCHITECTURE.md, idea 7).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from .. import data, metrics, models, penalties, solvers
from .. import model_selection as ms
from ..losses import LOSSES
from ..metrics._registry import check_multiclass_metric
from ..solvers._glm import CURVATURE_BOUNDS
from ._config import SOLVERS, ConfigError

_CLASSIFICATION_LOSSES = ("binary_cross_entropy", "hinge", "softmax_cross_entropy")
_BOUND_CG_LOSSES = tuple(name for name, fn in LOSSES.items() if fn in CURVATURE_BOUNDS)
_REGRESSION_METRICS = ("mse", "rmse", "mae", "r2")


class Outcome(NamedTuple):
    """What an experiment produced, for printing and writing out."""

    config: dict            # the validated experiment
    dataset: data.Dataset
    task: str               # "classification" | "regression"
    metric: str
    greater_is_better: bool
    search: Any             # SearchResult
    refit: Any              # FitResult whose params are a model_selection.Trained
    test_score: float       # the metric on the held-out rows (in its own sign)
    X_train: np.ndarray     # the rows searched and refitted on (the rest scored the refit)
    y_train: np.ndarray
    n_test: int
    seconds: dict           # wall time of each stage

    @property
    def cv_mean(self) -> float:
        """The best configuration's mean CV score in the metric's own sign, as `test_score`
        (the search maximises, so its scores hold error metrics negated)."""
        best = self.search.best_score
        return best if self.greater_is_better else -best


def load(cfg: dict) -> tuple[data.Dataset, str]:
    """The data set of `[data]` and its task."""
    section = cfg["data"]
    path = section["path"]
    if path.startswith("example:"):
        name = path.split(":", 1)[1]
        if name not in data.EXAMPLES:
            raise ConfigError(f"[data] path: no bundled example {name!r}; bundled are "
                              f"{', '.join('example:' + e for e in data.EXAMPLES)}.")
        dataset = data.load_example(name)
        target = "regression" if dataset.classes is None else "classification"
        if section["task"] not in ("auto", target):
            raise ConfigError(f"[data] task: example {name!r} is a {target} data set; got "
                              f"{section['task']!r}.")
        for key in ("target", "features"):
            if section[key] is not None:
                raise ConfigError(f"[data] {key}: does not apply to a bundled example, whose "
                                  f"columns are fixed; write it to a CSV file to choose them.")
    else:
        if not os.path.exists(path):  # load_csv's hint names the working directory, not the file's
            raise ConfigError(f"[data] path: no such file {path!r}; a relative path is taken from "
                              f"the experiment file's folder.")
        try:
            dataset = data.load_csv(path, section["target"], features=section["features"],
                                    task=section["task"], missing=section["missing"],
                                    categorical=section["categorical"])
        except (ValueError, TypeError, OSError) as err:
            raise ConfigError(_in_file_terms(str(err), path)) from None
    return dataset, "regression" if dataset.classes is None else "classification"


_CSV_ARGS = "path|target|features|task|missing|categorical"  # load_csv's, named alike in [data]


def _in_file_terms(message: str, path: str) -> str:
    """A `load_csv` error reworded for the experiment file: its arguments are [data] keys,
    and the fix is a line of TOML (`[data] missing = "drop"`), not a Python call."""
    message = re.sub(rf"`({_CSV_ARGS})`='(\w+)'", r'[data] \1 = "\2"', message)
    message = re.sub(rf"\b({_CSV_ARGS})='(\w+)'", r'[data] \1 = "\2"', message)
    message = re.sub(rf"`({_CSV_ARGS})`", r"[data] \1", message)
    message = re.sub(r"\b(Pass|Use) \[data\]", "Set [data]", message)
    message = re.sub(r"\buse \[data\]", "set [data]", message)
    return message if message.startswith("[data]") else f"[data] path {path!r}: {message}"


def _model(kind: str, model: dict, task: str, n_classes: int, config: dict):
    if kind == "linear":
        return models.linear()
    if kind == "logistic":
        return models.logistic()
    if kind == "softmax":
        return models.softmax(n_classes)
    return models.mlp(config.get("hidden", model["hidden"]),
                      config.get("activation", model["activation"]),
                      config.get("dropout", model["dropout"]),
                      n_outputs=n_classes if task == "classification" and n_classes > 2 else None)


def _check_task(cfg: dict, task: str, classes: tuple | None) -> tuple[str, str]:
    """The loss and metric, checked against the model and the target (`classes`: the
    class labels, None for regression)."""
    n_classes = 0 if classes is None else len(classes)
    kind = cfg["model"]["kind"]
    if task == "regression" and kind in ("logistic", "softmax"):
        raise ConfigError(f"[model] kind: {kind!r} needs class labels, but the target is "
                          f"numeric (regression); use 'linear' or 'mlp', or [data] task = "
                          f"\"classification\".")
    if task == "classification" and kind == "linear":
        # An integer column (a count, a score) is read as classes unless told otherwise.
        numeric = all(isinstance(c, (int, float)) for c in classes)
        regression = ', or [data] task = "regression" for a numeric target' if numeric else ""
        raise ConfigError("[model] kind: 'linear' is for regression, but the target holds "
                          f"classes; use 'logistic' (2 classes), 'softmax' or 'mlp'{regression}.")
    if kind == "logistic" and n_classes != 2:
        raise ConfigError(f"[model] kind: 'logistic' is binary, but the target has {n_classes} "
                          f"classes; use 'softmax' or 'mlp'.")
    multiclass = task == "classification" and n_classes > 2
    default = ("squared_error" if task == "regression" else
               "softmax_cross_entropy" if multiclass or kind == "softmax" else "binary_cross_entropy")
    loss = cfg["train"]["loss"] or default
    wants_classes = loss in _CLASSIFICATION_LOSSES
    if wants_classes != (task == "classification") or (wants_classes and (
            (loss == "softmax_cross_entropy") != (multiclass or kind == "softmax"))):
        raise ConfigError(f"[train] loss: {loss!r} does not fit model {kind!r} on a "
                          f"{'%d-class' % n_classes if task == 'classification' else 'regression'} "
                          f"target; leave it out to use {default!r}.")
    if cfg["train"]["optimizer"] == "bound_cg" and loss not in _BOUND_CG_LOSSES:
        raise ConfigError(f"[train] loss: {loss!r} cannot be fitted by optimizer 'bound_cg', which "
                          f"needs one of {', '.join(map(repr, _BOUND_CG_LOSSES))}; use 'lbfgs'.")
    metric = cfg["cv"]["metric"] or ("r2" if task == "regression" else "accuracy")
    if (metric in _REGRESSION_METRICS) != (task == "regression"):
        raise ConfigError(f"[cv] metric: {metric!r} is a "
                          f"{'regression' if metric in _REGRESSION_METRICS else 'classification'} "
                          f"metric, but the target is {task}.")
    if multiclass or loss == "softmax_cross_entropy":
        try:
            why = ("this target has several classes" if multiclass else
                   "[model] kind 'softmax' scores it as multiclass (kind 'logistic' scores 2 classes as binary)")
            check_multiclass_metric(metric, "[cv] metric", why)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return loss, metric


def _check_class_counts(cfg: dict, dataset: data.Dataset) -> None:
    """The stratified hold-out split needs 2+ rows of every class; refused here to name
    the class by its label in the file, and the fix in the file's terms."""
    counts = np.bincount(dataset.y, minlength=len(dataset.classes))
    rare = [dataset.classes[c] for c in np.flatnonzero(counts < 2)]
    if rare:
        column = f"[data] target {cfg['data']['target']!r}"
        raise ConfigError(f"{column}: class(es) {rare} have a single row, but the held-out "
                          f"split ([data] test_size) keeps every class on both sides, so each "
                          f"class needs at least 2 rows. Add rows of those classes, or drop or "
                          f"relabel them in {cfg['data']['path']!r}.")


def _schedule(name: str, lr, steps: int):
    if name == "cosine":
        return optax.cosine_decay_schedule(lr, steps)
    if name == "warmup_cosine":
        # optax.warmup_cosine_decay_schedule tests `peak_value == 0` in Python, which a
        # traced (searched) learning rate cannot answer; the same schedule, joined here.
        warmup = max(1, steps // 10)
        return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup),
                                     optax.cosine_decay_schedule(lr, max(1, steps - warmup))], [warmup])
    if name == "exponential":
        return optax.exponential_decay(lr, steps, decay_rate=0.01)  # to 1% of lr at the end
    return lr


def _optimizer(train: dict, config: dict):
    name = train["optimizer"]
    if name in SOLVERS:
        return getattr(solvers, name)()
    rate = _schedule(train["schedule"], config.get("learning_rate", train["learning_rate"]),
                     config.get("steps", train["steps"]))
    transform = getattr(optax, name)(rate)
    if train["clip"] is not None:
        transform = optax.chain(optax.clip_by_global_norm(train["clip"]), transform)
    if train["penalty"] in ("l1", "elastic_net"):
        # Proximal steps give the exact zeros an L1 penalty promises.
        return solvers.proximal(transform, learning_rate=rate)
    return transform


def _penalty(train: dict, config: dict):
    strength = config.get("strength", train["strength"])
    if train["penalty"] == "l1":
        return penalties.l1(strength)
    if train["penalty"] == "l2":
        return penalties.l2(strength)
    if train["penalty"] == "elastic_net":
        return penalties.elastic_net(strength, config.get("l1_ratio", train["l1_ratio"]))
    return penalties.none()


def fit_fns(cfg: dict, task: str, n_classes: int, loss: str, metric: str) -> ms.FitFns:
    """`make_fit_fns` for the experiment; every searched value comes from the config."""
    model, train = cfg["model"], cfg["train"]
    static = cfg["search"]["static"]
    pick = lambda name: (lambda c: c[name]) if name in static else train[name]
    return ms.make_fit_fns(
        lambda c: _model(model["kind"], model, task, n_classes, c), loss,
        optimizer=lambda c: _optimizer(train, c), penalty=lambda c: _penalty(train, c),
        steps=pick("steps"), batch_size=pick("batch_size"),
        standardize=cfg["data"]["standardize"], metric=metric, tol=train["tol"])


def space(cfg: dict, key) -> dict:
    """The traced search space of `[search.space]` (`{}` for a single configuration)."""
    section = cfg["search"]
    if not section["space"]:
        return {}
    if section["type"] == "grid":
        axes = {}
        for name, spec in section["space"].items():
            if isinstance(spec, list):
                axes[name] = spec
            elif "logspace" in spec:
                low, high, count = spec["logspace"]
                axes[name] = np.geomspace(low, high, count)
            else:
                low, high, count = spec["linspace"]
                axes[name] = np.linspace(low, high, count)
        return ms.grid(**axes)
    dists = {}
    for name, spec in section["space"].items():
        if isinstance(spec, list):
            dists[name] = ms.choice(spec)
        else:
            (how, args), = spec.items()
            dists[name] = ms.choice(args) if how == "choice" else getattr(ms, how)(*args)
    return ms.random_search_space(key, section["n"], **dists)


def folds(cfg: dict, y, task: str, key, classes: tuple | None) -> ms.Folds:
    """The cross-validation folds of `[cv]` over the training rows; `classes` are the
    labels of the class indices in `y` (None for regression)."""
    cv = cfg["cv"]
    splitter = cv["splitter"] or ("stratified" if task == "classification" else "kfold")
    if splitter == "stratified":
        if task != "classification":
            raise ConfigError("[cv] splitter: 'stratified' needs class labels, but the target is "
                              "numeric; use 'kfold' or 'shuffle'.")
        # stratified_kfold checks this too, but names the class by its index in `y`.
        counts = np.bincount(y, minlength=len(classes))
        fewest = int(counts.min())
        if fewest < cv["n_splits"]:
            fix = (f'Set [cv] n_splits = {fewest} or [cv] splitter = "kfold"' if fewest >= 2
                   else 'Set [cv] splitter = "kfold" (not stratified)')
            raise ConfigError(f"[cv] n_splits: class {classes[int(np.argmin(counts))]!r} has "
                              f"{fewest} row(s) in the training part, fewer than n_splits = "
                              f"{cv['n_splits']}; stratified folds need one in every test fold. "
                              f"{fix}, or add rows of that class.")
    try:
        if splitter == "stratified":
            return ms.stratified_kfold(y, cv["n_splits"], shuffle=cv["shuffle"], key=key)
        if splitter == "kfold":
            return ms.kfold(len(y), cv["n_splits"], shuffle=cv["shuffle"], key=key)
        return ms.shuffle_split(len(y), cv["n_splits"], test_size=cv["test_size"], key=key)
    except ValueError as err:  # in the file's terms: [cv] keys, not the splitters' arguments
        message = re.sub(r"`?\b(n_splits|test_size)\b`?", r"[cv] \1", str(err))
        raise ConfigError(message.replace("number of samples", "number of training rows")) from None


def _check_fold_sizes(cfg: dict, cv_folds: ms.Folds, metric: str) -> None:
    """R² of a single row is undefined (NaN, as in scikit-learn), so every configuration
    would score NaN: refused before the search, with the fix."""
    fewest = int(np.asarray(cv_folds.test).sum(axis=1).min())
    if metric == "r2" and fewest < 2:
        fix = ("raise [cv] test_size" if cfg["cv"]["splitter"] == "shuffle"
               else "lower [cv] n_splits")
        raise ConfigError(f"[cv] metric: a test fold holds {fewest} row(s), but 'r2' needs at "
                          f"least 2 (it compares the errors with the target's spread); {fix}, "
                          f"or use [cv] metric = \"mse\".")


def devices(setting):
    if setting == "all":
        return None
    available = jax.devices()
    if setting > len(available):
        raise ConfigError(f"devices: asks for {setting} devices, but only {len(available)} "
                          f"({available[0].platform}) are available.")
    return available[:setting]


def _settings_digest(cfg: dict) -> str:
    """A name for the checkpoint of these settings.

    `search` fingerprints its data, space and folds, but not the constants inside
    `train_fn` (steps, optimizer, model); a checkpoint per digest of the whole
    experiment keeps a changed experiment from resuming another one's chunks.
    """
    text = json.dumps({k: v for k, v in cfg.items() if k != ""}, sort_keys=True, default=repr)
    return "settings-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def run(cfg: dict, *, output: str, progress: bool) -> Outcome:
    """Load, split, search, refit and score; nothing is written here."""
    seconds = {}
    start = time.perf_counter()
    dataset, task = load(cfg)
    n_classes = 0 if dataset.classes is None else len(dataset.classes)
    loss, metric = _check_task(cfg, task, dataset.classes)
    if task == "classification":
        _check_class_counts(cfg, dataset)
    split_key, fold_key, space_key, search_key = jax.random.split(jax.random.key(cfg[""]["seed"]), 4)
    try:
        X_train, X_test, y_train, y_test = data.train_test_split(
            dataset.X, dataset.y, test_size=cfg["data"]["test_size"], key=split_key,
            stratify=task == "classification")
    except ValueError as err:  # in the file's terms: a [data] key, not a Python argument
        message = str(err).replace("`test_size`", "[data] test_size").replace(
            "stratify=True", "the split, stratified by class,")
        raise ConfigError(message) from None
    fns = fit_fns(cfg, task, n_classes, loss, metric)
    checkpoint = cfg[""]["checkpoint"]
    if checkpoint:
        checkpoint = os.path.join(f"{output}/checkpoint" if checkpoint is True else checkpoint,
                                  _settings_digest(cfg))
    seconds["load"] = time.perf_counter() - start
    start = time.perf_counter()
    cv_folds = folds(cfg, y_train, task, fold_key, dataset.classes)
    _check_fold_sizes(cfg, cv_folds, metric)
    result = ms.search(fns.train, fns.score, X_train, y_train, space(cfg, space_key),
                       cv_folds, key=search_key,
                       static=cfg["search"]["static"] or None, devices=devices(cfg[""]["devices"]),
                       checkpoint=checkpoint or None, progress=progress)
    seconds["search"] = time.perf_counter() - start
    start = time.perf_counter()
    refit = result.refit(X_train, y_train)
    score = float(fns.score(refit.params, X_test, y_test, np.ones(len(y_test), np.float32)))
    seconds["refit"] = time.perf_counter() - start
    greater_is_better = metrics.get_metric(metric).greater_is_better
    return Outcome(cfg, dataset, task, metric, greater_is_better, result, refit,
                   score if greater_is_better else -score, X_train, y_train, len(y_test), seconds)
