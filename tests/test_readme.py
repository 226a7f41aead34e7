"""The README's Python examples run as written, in order, and print what they say."""

import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run_and_match_their_comments(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 4, "a README example was added or removed: update this test"
    monkeypatch.chdir(tmp_path)  # the search example writes a checkpoint folder
    namespace = {}
    run = lambda block: exec(compile(block, str(README), "exec"), namespace)

    run(blocks[0])  # quickstart: "# 0.972 1101 True"
    accuracy, n_steps, converged = capsys.readouterr().out.split()
    assert (round(float(accuracy), 3), n_steps, converged) == (0.972, "1101", "True")

    run(blocks[1])  # vmap over learning rates: "[False False True]"
    assert np.asarray(namespace["results"].diverged).tolist() == [False, False, True]

    run(blocks[2])  # search with a checkpoint, then refit
    result = namespace["result"]
    assert result.scores.shape == (16, 5) and set(result.config_status()) <= {"ok", "converged", "max_steps"}
    assert (tmp_path / "runs" / "search1").is_dir()
    assert namespace["best"] is not None

    run(blocks[3])  # estimators: "C ≈ 0.234, 0.9807"
    tuned = namespace["tuned"]
    assert tuned.best_params_["C"] == pytest.approx(0.2336, rel=1e-3)
    assert tuned.best_score_ == pytest.approx(0.9807, abs=1e-4)
