"""The benchmark runner executes and writes its results (figures are not checked:
targets are the benchmarks' business, not the tests')."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "benchmarks" / "README.md"


def _run(*args: str, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - start


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import run

    return run


def test_only_names_the_unknown_workload(runner):
    with pytest.raises(SystemExit, match="W9"):
        runner._parse_only("W1,W9")
    assert runner._parse_only("w3, scaling") == ["W3", "S"]
    assert runner._parse_only(None) == list(runner.WORKLOADS)


def test_update_readme_replaces_only_the_generated_section(runner, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## W1\n\nhand-written text\n")
    runner.update_readme("first tables", readme)
    runner.update_readme("second tables", readme)
    text = readme.read_text()
    assert "hand-written text" in text
    assert "second tables" in text and "first tables" not in text
    assert text.count(runner.BEGIN) == 1 and text.count(runner.END) == 1


def test_quick_single_workload_writes_json_and_tables(tmp_path):
    before = README.read_text() if README.exists() else None
    done, _ = _run("--quick", "--only", "W4", "--out", str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    entry = report["workloads"]["W4"]
    assert "error" not in entry
    assert entry["summary"]["targets"] and entry["summary"]["tables"]
    assert entry["peak"]["gflops"] > 0 and report["machine"]["cores"] >= 1
    assert "### Targets" in (tmp_path / "results.md").read_text()
    # A quick run leaves the full run's tables in the README alone.
    assert (README.read_text() if README.exists() else None) == before


@pytest.mark.slow
def test_quick_suite_executes_every_workload(tmp_path):
    done, seconds = _run("--quick", "--out", str(tmp_path), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert set(report["workloads"]) == {"W1", "W2", "W3", "W4", "W5", "S"}
    for name, entry in report["workloads"].items():
        assert "error" not in entry, name
        assert entry["summary"]["targets"], name
    for plot in ("scaling_configs.png", "scaling_samples.png"):
        assert (tmp_path / plot).stat().st_size > 0
    print(f"python -m benchmarks --quick took {seconds:.0f} s")


def test_quickstart_benchmark_runs_both_libraries_in_fresh_processes():
    from benchmarks import bench_quickstart

    res = bench_quickstart.run(rounds=1)
    for library in ("jaxfit", "sklearn"):
        assert set(res[library]["seconds"]) == set(bench_quickstart.STEPS)
        assert res[library]["total"] >= sum(res[library]["seconds"].values()) * 0.999
        assert 0.9 < res[library]["accuracy"] <= 1 and 0.9 < res[library]["auc"] <= 1
    assert res["ratio"] > 0
