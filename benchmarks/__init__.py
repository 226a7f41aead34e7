"""jaxfit's benchmark suite: `python -m benchmarks [--quick] [--only W1,W3] [--out DIR]`.

Each `bench_*.py` module runs on its own too (`python -m benchmarks.bench_mlp`) and
exposes `run(quick=False) -> dict`; `benchmarks.run` runs them together and writes the
tables. This package imports nothing heavy, so fresh processes start fast.
"""
