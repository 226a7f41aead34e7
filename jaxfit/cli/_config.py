"""The experiment file of `jaxfit run`: read with tomllib, checked in full before any work.

Every key is declared here with its check and default, so an unknown key, a value of
the wrong kind or out of range, and a key that does not apply to the chosen model or
optimizer are all refused up front, with the section and key named. The schema is
documented for users in examples/README.md.
"""

from __future__ import annotations

import difflib
import math
import os
from typing import Any, Callable, NamedTuple

from ..losses import LOSSES
from ..metrics import METRICS

MODELS = ("linear", "logistic", "softmax", "mlp")
ACTIVATIONS = ("relu", "tanh", "logistic", "sigmoid", "gelu", "identity")
PENALTIES = ("none", "l1", "l2", "elastic_net")
GRADIENT_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")  # optax; take a learning rate
SOLVERS = ("lbfgs", "newton", "closed_form", "proximal_gradient", "bound_cg")  # jaxfit; own steps
SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential")
SPLITTERS = ("kfold", "stratified", "shuffle")
TRACED = ("learning_rate", "strength", "l1_ratio")  # searched side by side under vmap
STATIC = ("hidden", "activation", "dropout", "batch_size", "steps")  # one program per value
GRID_SPECS = ("logspace", "linspace")
RANDOM_SPECS = ("uniform", "loguniform", "randint", "choice")


class ConfigError(ValueError):
    """A bad experiment file; the message names the key and what is allowed."""


class _Field(NamedTuple):
    check: Callable[[str, Any], Any]
    default: Any


def _fail(where: str, message: str, value: Any = ..., hint: str = "") -> None:
    got = "" if value is ... else f"; got {value!r}"
    raise ConfigError(f"{where} {message}{got}{hint}.")


def _did_you_mean(word: Any, options) -> str:
    """' (did you mean 'x'?)' for the closest of `options` to a misspelt `word`, else ''."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _choice(*options):
    def check(where, value):
        if value not in options:
            _fail(where, f"must be one of {', '.join(map(repr, options))}", value,
                  _did_you_mean(value, options) if isinstance(value, str) else "")
        return value
    return check


_INT_MAX = 2**31 - 1  # counts and sizes travel through jit as int32


def _int(minimum: int):
    def check(where, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            _fail(where, f"must be an integer >= {minimum}", value)
        if value > _INT_MAX:
            _fail(where, f"must be an integer <= {_INT_MAX}", value)
        return value
    return check


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past float's range: TOML integers have no bound here
        return False


def _float(minimum: float, maximum: float = math.inf, *, strict: bool = False, top_open: bool = False):
    def check(where, value):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value)
        ok = ok and (value > minimum if strict else value >= minimum)
        ok = ok and (value < maximum if top_open else value <= maximum)
        if not ok:
            low, high = "(" if strict else "[", ")" if top_open else "]"
            _fail(where, f"must be a number in {low}{minimum}, {maximum}{high}", value)
        return float(value)
    return check


def _bool(where, value):
    if not isinstance(value, bool):
        _fail(where, "must be true or false", value)
    return value


def _str(where, value):
    if not isinstance(value, str) or not value:
        _fail(where, "must be a non-empty string", value)
    return value


def _names(where, value):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        _fail(where, 'must be a non-empty list of column names, e.g. ["age", "bmi"]', value)
    return value


def _hidden(where, value):
    if (not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                               and 1 <= v <= _INT_MAX for v in value)):
        _fail(where, "must be a list of layer widths (integers >= 1), e.g. [64, 32]", value)
    return tuple(value)


def _devices(where, value):
    if value != "all" and (isinstance(value, bool) or not isinstance(value, int) or value < 1
                           or value > _INT_MAX):
        _fail(where, 'must be "all" or a number of devices >= 1', value)
    return value


def _table(where, value):
    if not isinstance(value, dict):
        _fail(where, "must be a table of name = values", value)
    return value


def _checkpoint(where, value):
    if not isinstance(value, (bool, str)) or value == "":
        _fail(where, "must be true, false or a folder path", value)
    return value


SCHEMA: dict[str, dict[str, _Field]] = {
    "": {
        "seed": _Field(_int(0), 0),
        "output": _Field(_str, None),
        "devices": _Field(_devices, "all"),
        "checkpoint": _Field(_checkpoint, False),
    },
    "data": {
        "path": _Field(_str, None),
        "target": _Field(_str, None),
        "features": _Field(_names, None),
        "task": _Field(_choice("auto", "classification", "regression"), "auto"),
        "missing": _Field(_choice("error", "drop"), "error"),
        "categorical": _Field(_choice("error", "one_hot"), "error"),
        "test_size": _Field(_float(0.0, 1.0, strict=True, top_open=True), 0.25),
        "standardize": _Field(_bool, True),
    },
    "model": {
        "kind": _Field(_choice(*MODELS), None),
        "hidden": _Field(_hidden, (64,)),
        "activation": _Field(_choice(*ACTIVATIONS), "relu"),
        "dropout": _Field(_float(0.0, 1.0, top_open=True), 0.0),
    },
    "train": {
        "loss": _Field(_choice(*LOSSES), None),
        "penalty": _Field(_choice(*PENALTIES), "none"),
        "strength": _Field(_float(0.0), 0.0),
        "l1_ratio": _Field(_float(0.0, 1.0), 0.5),
        "optimizer": _Field(_choice(*GRADIENT_OPTIMIZERS, *SOLVERS), "adam"),
        "learning_rate": _Field(_float(0.0, strict=True), 0.01),
        "schedule": _Field(_choice(*SCHEDULES), "constant"),
        "clip": _Field(_float(0.0, strict=True), None),
        "steps": _Field(_int(1), 500),
        "batch_size": _Field(_int(1), None),
        "tol": _Field(_float(0.0), None),
    },
    "cv": {
        "splitter": _Field(_choice(*SPLITTERS), None),
        "n_splits": _Field(_int(2), 5),
        "shuffle": _Field(_bool, True),
        "test_size": _Field(_float(0.0, 1.0, strict=True, top_open=True), 0.2),
        "metric": _Field(_choice(*METRICS), None),
    },
    "search": {
        "type": _Field(_choice("grid", "random"), "grid"),
        "n": _Field(_int(1), None),
        "space": _Field(_table, {}),
        "static": _Field(_table, {}),
    },
}
_ALLOWED_SECTIONS = ", ".join(f"[{s}]" for s in SCHEMA if s)


def _section(name: str, table: Any) -> tuple[dict, set]:
    where = f"[{name}]" if name else "top level"
    if not isinstance(table, dict):
        _fail(f"[{name}]", "must be a table (a [section] header)", table)
    fields = SCHEMA[name]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        key = unknown[0]
        # A right key in the wrong section is the likeliest slip; else a misspelling.
        home = [s for s in SCHEMA if s != name and key in SCHEMA[s]]
        if home:
            place = f"in [{home[0]}]" if home[0] else "at the top level, before any [section]"
            guess = f" (it belongs {place})"
        else:
            guess = _did_you_mean(key, fields)
        hint = f" (sections are {_ALLOWED_SECTIONS})" if not name else ""
        _fail(f"{where}: unknown key {key!r}{guess};", f"allowed keys are {', '.join(fields)}{hint}")
    given = set(table)
    values = {key: field.check(f"[{name}] {key}" if name else key, table[key]) if key in table
              else field.default for key, field in fields.items()}
    return values, given


def _space_entry(name: str, spec: Any, kind: str) -> Any:
    where = f"[search.space] {name}"
    check = SCHEMA["train"][name].check
    if isinstance(spec, list):
        if not spec:
            _fail(where, "must list at least one value")
        return [check(f"{where} value", v) for v in spec]
    allowed = GRID_SPECS if kind == "grid" else RANDOM_SPECS
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in allowed:
        _fail(where, f"must be a list of values or a table with one of {', '.join(allowed)} "
                     f"(search type {kind!r})", spec)
    (how, args), = spec.items()
    if how == "choice":  # a list of values, nothing else: not the grid's forms
        if not isinstance(args, list) or not args:
            _fail(where, "choice must be a non-empty list of values, e.g. { choice = [0.1, 1.0] }",
                  args)
        return {"choice": [check(f"{where} value", v) for v in args]}
    size = 3 if how in GRID_SPECS else 2
    if (not isinstance(args, list) or len(args) != size
            or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)):
        form = "[low, high, count]" if size == 3 else "[low, high]"
        _fail(where, f"{how} must be {form}", args)
    if how == "randint" and not all(isinstance(a, int) and a <= _INT_MAX for a in args):
        _fail(where, f"randint must be [low, high], integers up to {_INT_MAX} (high excluded)",
              args)
    low, high = check(f"{where} low", args[0]), check(f"{where} high", args[1])
    # Random draws are on [low, high): an empty range has nothing to draw.
    strict = how in RANDOM_SPECS
    if low > high or (strict and low == high) or (how in ("logspace", "loguniform") and low <= 0):
        bounds = "low < high" if strict else "low <= high"
        _fail(where, f"{how} needs {'0 < ' if how.startswith('log') else ''}{bounds}", args)
    if size == 3:
        _int(1)(f"{where} count", args[2])
    return {how: list(args)}


def _search(values: dict, model: dict, optimizer: str) -> None:
    kind = values["type"]
    if kind == "random" and values["n"] is None:
        _fail("[search] n", 'is required with type = "random" (the number of configurations)')
    if kind == "grid" and values["n"] is not None:
        _fail("[search] n", 'applies only to type = "random"; a grid tries every combination')
    space, static = values["space"], values["static"]
    if kind == "random" and not space:
        # Static values are crossed with the draws, not drawn: n would be ignored.
        _fail("[search.space]", f'is empty, so type = "random" has nothing to draw its n = '
              f'{values["n"]} configurations from; give it one of {", ".join(TRACED)}, '
              f'or use type = "grid"')
    for name in space:
        if name not in TRACED:
            where = f"[search.space]: {name!r} cannot be searched here;"
            if name in STATIC:
                _fail(where, "it changes shapes or code, so list it in [search.static]")
            _fail(where, f"traced hyperparameters are {', '.join(TRACED)}",
                  hint=_did_you_mean(name, TRACED))
        space[name] = _space_entry(name, space[name], kind)
    for name, options in static.items():
        if name not in STATIC:
            where = f"[search.static]: {name!r} cannot be searched here;"
            if name in TRACED:
                _fail(where, "it is traced, so list it in [search.space]")
            _fail(where, f"static hyperparameters are {', '.join(STATIC)}",
                  hint=_did_you_mean(name, STATIC))
        if not isinstance(options, list) or not options:
            _fail(f"[search.static] {name}", "must be a non-empty list of values to try", options)
        section = "model" if name in ("hidden", "activation", "dropout") else "train"
        static[name] = [SCHEMA[section][name].check(f"[search.static] {name} value", v) for v in options]
        if section == "model" and model["kind"] != "mlp":
            _fail(f"[search.static] {name}", f"applies only to model kind 'mlp', not {model['kind']!r}")
    if "learning_rate" in space and optimizer in SOLVERS:
        _fail("[search.space] learning_rate", f"does not apply to optimizer {optimizer!r}, which "
              f"chooses its own step sizes; use one of {', '.join(GRADIENT_OPTIMIZERS)}")


def _cross_checks(cfg: dict, given: dict) -> None:
    model, train = cfg["model"], cfg["train"]
    if model["kind"] is None:
        _fail("[model] kind", f"is required: one of {', '.join(map(repr, MODELS))}")
    data = cfg["data"]
    if data["path"] is None:
        _fail("[data] path", 'is required: "example:NAME" or a CSV file path')
    if not data["path"].startswith("example:") and data["target"] is None:
        _fail("[data] target", "is required for a CSV file: the name of the column to predict")
    if data["path"].startswith("example:"):
        extra = given["data"] & {"missing", "categorical"}
        if extra:  # `target` and `features` are refused when the example is loaded
            _fail(f"[data] {sorted(extra)[0]}", "applies only to a CSV file; a bundled example "
                  "has no empty cells or text features")
    if model["kind"] != "mlp":
        extra = given["model"] & {"hidden", "activation", "dropout"}
        if extra:
            _fail(f"[model] {sorted(extra)[0]}", f"applies only to kind 'mlp', not {model['kind']!r}")
    if train["optimizer"] in SOLVERS:
        extra = given["train"] & {"learning_rate", "schedule", "clip"}
        if extra:
            _fail(f"[train] {sorted(extra)[0]}", f"does not apply to optimizer {train['optimizer']!r}, "
                  f"which chooses its own step sizes; use one of {', '.join(GRADIENT_OPTIMIZERS)}")
        for where, given_batch in (("[train] batch_size", train["batch_size"] is not None),
                                   ("[search.static] batch_size",
                                    "batch_size" in cfg["search"]["static"])):
            if given_batch:
                _fail(where, f"needs a gradient optimizer ({', '.join(GRADIENT_OPTIMIZERS)}); "
                      f"{train['optimizer']!r} works on the full batch")
    if train["optimizer"] == "bound_cg":
        if model["kind"] not in ("linear", "logistic"):
            _fail("[train] optimizer", "'bound_cg' fits model kinds 'linear' and 'logistic' only, "
                  f"not {model['kind']!r}; use 'lbfgs' or a gradient method")
        if train["penalty"] not in ("none", "l2"):
            _fail("[train] optimizer", f"'bound_cg' takes penalty 'none' or 'l2', not "
                  f"{train['penalty']!r}; use 'proximal_gradient' for L1 and elastic net")
    if "l1_ratio" in given["train"] and train["penalty"] != "elastic_net":
        _fail("[train] l1_ratio", "applies only to penalty 'elastic_net'")
    if "strength" in given["train"] and train["penalty"] == "none":
        _fail("[train] strength", 'needs a penalty: set [train] penalty = "l1", "l2" or "elastic_net"')
    if "test_size" in given["cv"] and cfg["cv"]["splitter"] != "shuffle":
        _fail("[cv] test_size", "applies only to splitter 'shuffle'")
    if "shuffle" in given["cv"] and cfg["cv"]["splitter"] == "shuffle":
        _fail("[cv] shuffle", "applies only to splitters 'kfold' and 'stratified' (splitter "
              "'shuffle' draws every split at random)")
    space = cfg["search"]["space"]
    if train["penalty"] == "none" and ("strength" in space or "l1_ratio" in space):
        _fail("[search.space]", 'searches a penalty strength but [train] penalty = "none"')
    if "l1_ratio" in space and train["penalty"] != "elastic_net":
        _fail("[search.space] l1_ratio", "applies only to penalty 'elastic_net'")


def parse(document: dict, base_dir: str) -> dict:
    """Validate a parsed TOML document; return every section with defaults filled in.

    Paths (`[data] path`, `output`, a `checkpoint` folder) are resolved against
    `base_dir`, the folder of the experiment file.

    Raises:
      ConfigError: naming the first bad key and what it allows.
    """
    top = {k: v for k, v in document.items() if not isinstance(v, dict)}
    sections = {k: v for k, v in document.items() if isinstance(v, dict)}
    for name in sections:
        if name not in SCHEMA or not name:
            guess = _did_you_mean(f"[{name}]", [f"[{s}]" for s in SCHEMA if s])
            _fail(f"unknown section [{name}]{guess};", f"allowed sections are {_ALLOWED_SECTIONS}")
    cfg, given = {}, {}
    cfg[""], given[""] = _section("", top)
    for name in SCHEMA:
        if name:
            cfg[name], given[name] = _section(name, sections.get(name, {}))
    _cross_checks(cfg, given)
    _search(cfg["search"], cfg["model"], cfg["train"]["optimizer"])
    path = cfg["data"]["path"]
    if not path.startswith("example:"):
        cfg["data"]["path"] = os.path.join(base_dir, path)
    for key in ("output", "checkpoint"):
        if isinstance(cfg[""][key], str):
            cfg[""][key] = os.path.join(base_dir, cfg[""][key])
    return cfg


def read(path: str) -> dict:
    """Read and validate an experiment file (see `parse`)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ImportError("Reading experiment files on Python 3.10 needs tomli: "
                              "pip install tomli") from None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such experiment file {path!r}")
    with open(path, "rb") as f:
        try:
            document = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:  # TOML is UTF-8 text
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    try:
        return parse(document, os.path.dirname(os.path.abspath(path)))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
