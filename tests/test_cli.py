"""The `jaxfit` command line: the demo, the example experiments, and bad input."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import jaxfit
from jaxfit.cli import main
from jaxfit.cli._config import SCHEMA
from jaxfit.cli._config import parse as parse_config
from jaxfit.cli._config import read as read_config
from jaxfit.cli._main import default_cache_dir

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DIABETES_CSV = ROOT / "jaxfit" / "data" / "examples" / "diabetes.csv"
PNG = b"\x89PNG\r\n\x1a\n"
RESULT_FILES = {"table.csv", "table.json", "best_params.npz", "summary.json", "cv_scores.png",
                "loss_curve.png"}


def _check_results(folder: pathlib.Path, searched: list) -> dict:
    names = {p.name for p in folder.iterdir()}
    expected = RESULT_FILES | {f"validation_curve_{name}.png" for name in searched}
    assert expected <= names, expected - names
    assert not [n for n in names if n.endswith(".tmp")]  # atomic writes leave no debris
    for name in names:
        if name.endswith(".png"):
            assert (folder / name).read_bytes()[:8] == PNG
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["files"]) == names
    rows = json.loads((folder / "table.json").read_text())
    assert len(rows) == len((folder / "table.csv").read_text().splitlines()) - 1
    assert sorted(r["rank_test_score"] for r in rows)[0] == 1
    saved = jaxfit.io.load(folder / "best_params.npz")
    assert jaxfit.io.load_metadata(folder / "best_params.npz")["best_config"] == summary["best_config"]
    assert saved["params"]
    return summary


def test_demo_in_a_subprocess_writes_every_promised_file(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "JAXFIT_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-m", "jaxfit", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "rank" in out and "best: strength=" in out
    accuracy = float(re.search(r"test accuracy (\S+)", out).group(1))
    assert accuracy >= 0.9
    summary = _check_results(tmp_path / "jaxfit-demo", ["strength"])
    assert summary["test_score"] == pytest.approx(accuracy, abs=1e-4)
    assert summary["cv_mean"] >= 0.9
    saved = jaxfit.io.load(tmp_path / "jaxfit-demo" / "best_params.npz")
    assert np.asarray(saved["params"]["w"]).shape == (30,)
    assert any(cache.iterdir())  # the compilation cache was written where we asked


def test_demo_settings_are_examples_demo_toml():
    from jaxfit.cli._commands import DEMO

    assert read_config(str(EXAMPLES / "demo.toml")) == parse_config(DEMO, str(EXAMPLES))


@pytest.mark.parametrize("name, searched, check", [
    ("classification", ["learning_rate", "strength"], lambda s: s["test_score"] >= 0.9),
    ("regression", ["strength"], lambda s: s["test_score"] >= 0.3),
    ("lasso_path", ["strength"], lambda s: 0 < s["test_score"] < 5000),
    ("mlp", ["learning_rate"], lambda s: s["test_score"] >= 0.8),
])
def test_example_experiments_run(tmp_path, capsys, name, searched, check):
    out = tmp_path / name
    assert main(["run", str(EXAMPLES / f"{name}.toml"), "--out", str(out), "--quiet", "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "held-out" in printed and str(out) in printed
    summary = _check_results(out, searched)
    assert check(summary), summary
    if name == "lasso_path":
        assert (out / "regularization_path.png").read_bytes()[:8] == PNG


def test_bound_cg_search_matches_lbfgs(tmp_path, capsys):
    """`optimizer = "bound_cg"` runs from the command line and reaches L-BFGS's optimum."""
    scores = {}
    for optimizer in ("bound_cg", "lbfgs"):
        path = tmp_path / f"{optimizer}.toml"
        path.write_text(BASE + f"""[train]
optimizer = "{optimizer}"
penalty = "l2"
steps = 200
tol = 1e-6
[search.space]
strength = {{ logspace = [1e-3, 1e-1, 3] }}
""")
        assert main(["run", str(path), "--out", str(tmp_path / optimizer), "--quiet", "--no-cache"]) == 0
        rows = json.loads((tmp_path / optimizer / "table.json").read_text())
        scores[optimizer] = [r["mean_test_score"] for r in rows]
    capsys.readouterr()
    np.testing.assert_allclose(scores["bound_cg"], scores["lbfgs"], atol=1e-9)


def test_static_axes_random_search_and_resuming(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # without `output` or --out, results go to ./<stem>-results
    pathlib.Path("static.toml").write_text("""
        checkpoint = true
        devices = 1
        [data]
        path = "example:breast_cancer"
        [model]
        kind = "logistic"
        [train]
        optimizer = "lbfgs"
        penalty = "l2"
        [cv]
        n_splits = 3
        [search]
        type = "random"
        n = 2
        [search.space]
        strength = { loguniform = [1e-3, 1e-1] }
        [search.static]
        steps = [5, 20]
    """)
    assert main(["run", "static.toml", "--quiet", "--no-cache"]) == 0
    rows = json.loads(pathlib.Path("static-results/table.json").read_text())
    assert sorted({r["param_steps"] for r in rows}) == [5, 20] and len(rows) == 4
    assert all(1e-3 <= r["param_strength"] <= 1e-1 for r in rows)
    capsys.readouterr()
    # Run again: both chunks (one per static value) come back from the checkpoint.
    assert main(["run", "static.toml", "--no-cache", "--overwrite"]) == 0
    assert "2 chunk(s) resumed from the checkpoint" in capsys.readouterr().out
    assert json.loads(pathlib.Path("static-results/table.json").read_text()) == rows


BASE = """
[data]
path = "example:breast_cancer"
[model]
kind = "logistic"
"""

# (arguments or a config text, a fragment the one error line must contain)
BAD_INPUT = [
    (["run", "{tmp}/missing.toml"], "no such experiment file"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["run"], "required: CONFIG"),
    (["demo", "--out", "{tmp}/a-file"], "a-file' is a file"),
    ("[data\npath = 1", "not valid TOML"),
    (BASE + "[modle]\nkind = 1", "unknown section [modle] (did you mean '[model]'?)"),
    ("colour = 1" + BASE, "top level: unknown key 'colour'"),
    (BASE + "colour = 1", "[model]: unknown key 'colour'"),
    (BASE + "[train]\nlearning_rat = 0.1", "[train]: unknown key 'learning_rat' (did you mean "
     "'learning_rate'?); allowed keys are loss, penalty"),
    (BASE + "[train]\noptimizer = 'adma'", "[train] optimizer must be one of"),
    (BASE + "[train]\noptimizer = 'adma'", "got 'adma' (did you mean 'adam'?)"),
    # A key in the wrong section, such as `seed` written after a header, is named so.
    (BASE + "seed = 1", "[model]: unknown key 'seed' (it belongs at the top level, before any"),
    ("[data]\npath = 'example:iris'\nlearning_rate = 0.1\n[model]\nkind = 'softmax'",
     "[data]: unknown key 'learning_rate' (it belongs in [train])"),
    (BASE + "[train]\npenalty = 'l2'\n[search.space]\nstrenght = [0.1]",
     "traced hyperparameters are learning_rate, strength, l1_ratio (did you mean 'strength'?)"),
    (BASE + "[train]\npenalty = 'l2'\n[search]\ntype = 'random'\nn = 3",
     "[search.space] is empty, so type = \"random\" has nothing to draw its n = 3"),
    (BASE + "[train]\nsteps = 'ten'", "[train] steps must be an integer >= 1; got 'ten'"),
    (BASE + "[train]\nlearning_rate = -1.0", "[train] learning_rate must be a number in (0.0"),
    (BASE + "[cv]\nn_splits = 1", "[cv] n_splits must be an integer >= 2"),
    (BASE + "[cv]\nmetric = 'r2'", "[cv] metric: 'r2' is a regression metric"),
    ("[data]\npath = 'example:breast_cancer'\n[model]\nkind = 'softmax'\n[cv]\nmetric = 'f1'",
     "[cv] metric 'f1' scores a binary target (class 1 against the rest), but [model] kind "
     "'softmax' scores it as multiclass (kind 'logistic' scores 2 classes as binary)"),
    ("[data]\npath = 'example:iris'\ntest_size = 0.01\n[model]\nkind = 'softmax'",
     "[data] test_size gives a test part of 2 samples, fewer than the 3 classes, so the split, "
     "stratified by class, cannot place every class in it. Change [data] test_size."),
    ("devices = 64" + BASE, "devices: asks for 64 devices"),
    ("devices = 'some'" + BASE, "devices must be \"all\" or a number of devices"),
    (BASE + "[train]\noptimizer = 'lbfgs'\nlearning_rate = 0.1", "[train] learning_rate does not apply"),
    (BASE + "[model]\nhidden = [8]", None),  # a repeated [model] table is invalid TOML
    ("[data]\npath = 'example:breast_cancer'\n[model]\nkind = 'linear'\nhidden = [8]",
     "[model] hidden applies only to kind 'mlp'"),
    ("[data]\npath = 'example:iris'\n[model]\nkind = 'logistic'", "'logistic' is binary"),
    ("[data]\npath = 'example:diabetes'\n[model]\nkind = 'softmax'", "needs class labels"),
    ("[data]\npath = 'example:nope'\n[model]\nkind = 'linear'", "no bundled example 'nope'"),
    ("[data]\npath = 'missing.csv'\ntarget = 'y'\n[model]\nkind = 'linear'",
     "[data] path: no such file '{tmp}/missing.csv'; a relative path is taken from the "
     "experiment file's folder"),
    ("[data]\npath = 'missing.csv'\n[model]\nkind = 'linear'", "[data] target is required"),
    (f"[data]\npath = '{DIABETES_CSV}'\ntarget = 'nope'\n[model]\nkind = 'linear'",
     "[data] target column 'nope' is not in the file"),
    ("[model]\nkind = 'linear'", "[data] path is required"),
    # R² of one row is undefined; unchecked, a rounding residue scored it about -1e19.
    ("[data]\npath = 'example:diabetes'\n[model]\nkind = 'linear'\n[cv]\nsplitter = 'shuffle'"
     "\ntest_size = 0.001", "[cv] metric: a test fold holds 1 row(s), but 'r2' needs at least 2"),
    ("[data]\npath = 'example:diabetes'\ntest_size = 0.5\n[model]\nkind = 'linear'\n[cv]\n"
     "n_splits = 221", "lower [cv] n_splits, or use [cv] metric = \"mse\""),
    ("[data]\npath = 'example:iris'\nmissing = 'drop'\n[model]\nkind = 'softmax'",
     "[data] missing applies only to a CSV file"),
    ("[data]\npath = 'example:diabetes'\n[model]\nkind = 'linear'\n[cv]\nsplitter = 'shuffle'"
     "\nshuffle = false", "[cv] shuffle applies only to splitters 'kfold' and 'stratified'"),
    # The splitters' own checks are reworded in the file's terms, not as Python arguments.
    ("[data]\npath = 'example:iris'\n[model]\nkind = 'softmax'\n[cv]\nsplitter = 'kfold'\n"
     "n_splits = 500", "[cv] n_splits must be at most the number of training rows (112); got 500. "
     "Lower [cv] n_splits."),
    ("[data]\npath = 'example:diabetes'\n[model]\nkind = 'linear'\n[cv]\nsplitter = 'shuffle'"
     "\ntest_size = 0.999\nmetric = 'mse'", "[cv] test_size=0.999 leaves no training sample"),
    (BASE + "[train]\npenalty = 'l2'\n[search]\ntype = 'random'\n[search.space]\nstrength = [0.1]",
     "[search] n is required"),
    (BASE + "[train]\npenalty = 'l2'\n[search.space]\nhidden = [[8]]", "list it in [search.static]"),
    (BASE + "[train]\npenalty = 'l2'\n[search.space]\nstrength = {logspace = [1, 0.1, 3]}",
     "logspace needs 0 < low <= high"),
    (BASE + "[search.space]\nstrength = [0.1]", "[train] penalty = \"none\""),
    ("[data]\npath = 'example:iris'\n[model]\nkind = 'softmax'\n[train]\noptimizer = 'bound_cg'",
     "'bound_cg' fits model kinds 'linear' and 'logistic' only, not 'softmax'"),
    (BASE + "[train]\noptimizer = 'bound_cg'\npenalty = 'l1'", "use 'proximal_gradient' for L1"),
    ("[data]\npath = 'example:diabetes'\n[model]\nkind = 'linear'\n[train]\noptimizer = 'bound_cg'"
     "\nloss = 'absolute_error'",
     "'absolute_error' cannot be fitted by optimizer 'bound_cg'"),
    (BASE + "[train]\noptimizer = 'lbfgs'\n[search.static]\nbatch_size = [16, 32]",
     "[search.static] batch_size needs a gradient optimizer"),
    (BASE + "[train]\npenalty = 'l2'\n[search]\ntype = 'random'\nn = 2\n[search.space]\n"
     "strength = {randint = [0.5, 3.5]}",
     "[search.space] strength randint must be [low, high], integers"),
    (BASE + "[train]\npenalty = 'l2'\n[search]\ntype = 'random'\nn = 2\n[search.space]\n"
     "strength = {uniform = [0.5, 0.5]}", "[search.space] strength uniform needs low < high"),
    # choice takes a list only; the grid's forms were let through, or named as the fix.
    (BASE + "[train]\npenalty = 'l2'\n[search]\ntype = 'random'\nn = 2\n[search.space]\n"
     "strength = {choice = 0.1}", "[search.space] strength choice must be a non-empty list of "
     "values, e.g. { choice = [0.1, 1.0] }; got 0.1."),
    (BASE + "[train]\npenalty = 'l2'\n[search]\ntype = 'random'\nn = 2\n[search.space]\n"
     "strength = {choice = {logspace = [0.1, 1, 3]}}", "[search.space] strength choice must be a "
     "non-empty list of values"),
]


@pytest.mark.parametrize("given, fragment", BAD_INPUT)
def test_bad_input_exits_with_one_line(tmp_path, capsys, monkeypatch, given, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    if isinstance(given, str):
        (tmp_path / "bad.toml").write_text(given)
        given = ["run", str(tmp_path / "bad.toml")]
    argv = [a.format(tmp=tmp_path) for a in given]
    argv += ["--no-cache"] if argv[0] in ("run", "demo") and len(argv) > 1 else []
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's usage errors
        code = exit.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1, err
    assert lines[0].startswith("jaxfit")
    assert fragment is None or fragment.replace("{tmp}", str(tmp_path)) in lines[0], lines[0]


def _error_line(tmp_path, capsys, config: str) -> str:
    (tmp_path / "bad.toml").write_text(config)
    assert main(["run", str(tmp_path / "bad.toml"), "--no-cache", "--quiet"]) == 2
    return capsys.readouterr().err


def test_multiclass_roc_auc_is_refused_naming_the_key(tmp_path, capsys):
    err = _error_line(tmp_path, capsys, "[data]\npath = 'example:iris'\n[model]\nkind = 'softmax'"
                                        "\n[cv]\nmetric = 'roc_auc'")
    assert "[cv] metric" in err and "'roc_auc'" in err and "'accuracy'" in err


def test_rare_classes_are_named_by_label_with_the_fix_in_the_file(tmp_path, capsys):
    rows = "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20))
    (tmp_path / "rare.csv").write_text("a,b,label\n" + rows + "20,1,z\n")
    config = "[data]\npath = 'rare.csv'\ntarget = 'label'\n[model]\nkind = 'softmax'\n"
    err = _error_line(tmp_path, capsys, config)
    assert "[data] target 'label'" in err and "['z']" in err and "at least 2 rows" in err
    assert "stratify" not in err  # no Python-API advice
    # With 3 rows of 'z', 2 reach the training part: too few for 3 stratified folds.
    (tmp_path / "rare.csv").write_text("a,b,label\n" + rows + "20,1,z\n21,2,z\n22,0,z\n")
    err = _error_line(tmp_path, capsys, config + "[cv]\nn_splits = 3\n")
    assert "[cv] n_splits: class 'z' has 2 row(s)" in err
    assert "Set [cv] n_splits = 2 or [cv] splitter = \"kfold\"" in err


def test_csv_errors_name_the_data_key_and_the_fix_in_toml(tmp_path, capsys):
    """load_csv speaks of Python arguments (`missing`='drop'); the CLI names [data] keys."""
    rows = "".join(f"{i},{'' if i == 3 else i % 5},{i * 0.5}\n" for i in range(20))
    (tmp_path / "gaps.csv").write_text("a,b,y\n" + rows)
    config = "[data]\npath = 'gaps.csv'\ntarget = 'y'\n[model]\nkind = 'linear'\n"
    err = _error_line(tmp_path, capsys, config)
    assert err.startswith(f"jaxfit: error: [data] path '{tmp_path / 'gaps.csv'}': Column 'b' has 1 "
                          f"missing value(s)"), err
    assert 'Set [data] missing = "drop"' in err and "missing='drop'" not in err
    (tmp_path / "gaps.csv").write_text("a,b,y\n1,2,u\n3,4,v\n")
    err = _error_line(tmp_path, capsys, config.replace("'y'", "'y'\ntask = 'regression'"))
    assert '[data] task = "regression" needs a numeric target' in err
    assert 'Set [data] task = "classification" or choose another [data] target' in err


def test_an_integer_target_for_a_linear_model_is_told_the_task_key(tmp_path, capsys):
    """An integer column is read as classes; the fix for a linear model is [data] task."""
    rows = "".join(f"{i},{i % 7},{3 * i + 10}\n" for i in range(30))
    (tmp_path / "counts.csv").write_text("a,b,count\n" + rows)
    config = "[data]\npath = 'counts.csv'\ntarget = 'count'\n[model]\nkind = 'linear'\n"
    err = _error_line(tmp_path, capsys, config)
    assert "'linear' is for regression" in err and '[data] task = "regression"' in err, err
    # Text classes cannot be a regression target: no such advice.
    err = _error_line(tmp_path, capsys, "[data]\npath = 'example:iris'\n[model]\nkind = 'linear'\n")
    assert "'linear' is for regression" in err and "task" not in err, err


def test_a_finished_run_is_never_overwritten_silently(tmp_path, capsys):
    """A second run into a results folder is refused before any work; --overwrite replaces
    the results whole, leaving no plot of the earlier run beside them."""
    config = ("[data]\npath = 'example:diabetes'\n[model]\nkind = 'linear'\n[train]\n"
              "optimizer = 'closed_form'\nsteps = 1\npenalty = 'l2'\n[cv]\nn_splits = 2\n")
    (tmp_path / "first.toml").write_text(config + "[search.space]\nstrength = [0.01, 1.0]\n")
    (tmp_path / "second.toml").write_text(config)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "first.toml"), "--out", str(out), "--quiet", "--no-cache"]) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "validation_curve_strength.png" in first
    capsys.readouterr()
    assert main(["run", str(tmp_path / "second.toml"), "--out", str(out), "--no-cache"]) == 2
    captured = capsys.readouterr()
    assert "already holds an earlier run's results" in captured.err and "--overwrite" in captured.err
    assert "rank" not in captured.out  # refused before the search
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert main(["run", str(tmp_path / "second.toml"), "--out", str(out), "--quiet", "--no-cache",
                 "--overwrite"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["files"]) == {p.name for p in out.iterdir()}
    assert "validation_curve_strength.png" not in summary["files"]
    assert summary["experiment"] == str(tmp_path / "second.toml")


def test_summary_scores_are_in_the_metric_sign(tmp_path, capsys):
    """An error metric is negated in the ranked table only: summary.json gives it as printed."""
    (tmp_path / "mse.toml").write_text("[data]\npath = 'example:diabetes'\n[model]\nkind = 'linear'"
                                       "\n[train]\noptimizer = 'closed_form'\nsteps = 1\n"
                                       "[cv]\nn_splits = 2\nmetric = 'mse'\n")
    assert main(["run", str(tmp_path / "mse.toml"), "--out", str(tmp_path / "out"), "--no-cache"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    printed = float(re.search(r"CV mse (\S+)", out).group(1))
    assert summary["cv_mean"] == pytest.approx(printed, abs=1e-4) and printed > 1000
    assert summary["test_score"] == pytest.approx(float(re.search(r"test mse (\S+)", out).group(1)),
                                                  abs=1e-4)
    rows = json.loads((tmp_path / "out" / "table.json").read_text())
    assert rows[0]["mean_test_score"] == pytest.approx(-summary["cv_mean"])


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"no such experiment file '{tmp_path / 'missing.toml'}'")):
        main(["run", str(tmp_path / "missing.toml"), "--debug", "--no-cache"])


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["run", "--help"]])
def test_help_on_every_command(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: jaxfit") and "compilation cache" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out.strip() == f"jaxfit {jaxfit.__version__}"


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXFIT_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == str(tmp_path / "c")
    monkeypatch.delenv("JAXFIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == os.path.join(str(tmp_path), "jaxfit", "xla")


def test_every_schema_key_is_documented():
    readme = (EXAMPLES / "README.md").read_text()
    for section, fields in SCHEMA.items():
        if section:
            assert f"`[{section}]`" in readme
        for key in fields:
            assert f"| `{key}` |" in readme, (section, key)
