"""A metric called with concrete arrays compiles one XLA program, and scores as under jit.

Run op by op, a metric compiled a program per jnp operation at a process's first call
(~0.5 s for `accuracy`); each metric now checks its inputs in Python and runs one jitted
core (`jaxfit._compile.jit`).
"""

import inspect

import jax
import numpy as np
import pytest
import sklearn.metrics as skm

import jaxfit.metrics as M
from helpers import compiled_by
from jaxfit import _compile

C = 4  # classes of the multiclass problems


def _data(kind, rng, n):
    """(y_true, y_pred) in NumPy, as a user passes them."""
    if kind == "binary":
        return rng.integers(0, 2, n), rng.integers(0, 2, n)
    if kind == "multi":
        return rng.integers(0, C, n).astype(np.int32), rng.integers(0, C, n).astype(np.int32)
    if kind == "score":
        return rng.integers(0, 2, n), rng.uniform(0.01, 0.99, n).astype(np.float32)
    if kind == "proba":
        return rng.integers(0, C, n), rng.dirichlet(np.ones(C), n)
    y = rng.normal(size=n if kind == "reg1" else (n, 3)).astype(np.float32)
    return y, y + rng.normal(size=y.shape)


def _sk_prf(fn, **kwargs):
    return lambda y, p, sample_weight: fn(y, p, sample_weight=sample_weight, zero_division=0,
                                          **kwargs)


# (id, metric, kind of data, keyword options, scikit-learn's function or None)
_BASE = [
    ("accuracy-binary", M.accuracy, "binary", {}, skm.accuracy_score),
    ("accuracy-multi", M.accuracy, "multi", {}, None),
    ("log_loss-1d", M.log_loss, "score", {}, None),
    ("log_loss-2d", M.log_loss, "proba", {}, None),
    ("log_loss-eps", M.log_loss, "proba", {"eps": 1e-3}, None),
    ("roc_auc", M.roc_auc, "score", {}, skm.roc_auc_score),
    ("confusion_matrix", M.confusion_matrix, "multi", {},
     lambda y, p, sample_weight: skm.confusion_matrix(y, p, labels=range(C),
                                                      sample_weight=sample_weight)),
    ("confusion_matrix-n_classes", M.confusion_matrix, "multi", {"n_classes": C + 2}, None),
    ("mse-1d", M.mse, "reg1", {}, None),
    ("mse-2d", M.mse, "reg2", {}, None),
    ("rmse-1d", M.rmse, "reg1", {}, None),
    ("rmse-2d", M.rmse, "reg2", {}, None),
    ("mae-1d", M.mae, "reg1", {}, None),
    ("mae-2d", M.mae, "reg2", {}, None),
    ("r2-1d", M.r2, "reg1", {}, skm.r2_score),
    ("r2-2d", M.r2, "reg2", {}, None),
]
for _fn, _sk in ((M.precision, skm.precision_score), (M.recall, skm.recall_score),
                 (M.f1, skm.f1_score)):
    _BASE += [
        (f"{_fn.__name__}-binary", _fn, "binary", {}, None),
        (f"{_fn.__name__}-pos_label", _fn, "binary", {"pos_label": 0}, None),
        (f"{_fn.__name__}-micro", _fn, "multi", {"average": "micro"}, None),
        (f"{_fn.__name__}-macro", _fn, "multi", {"average": "macro"},
         _sk_prf(_sk, average="macro")),
        (f"{_fn.__name__}-weighted", _fn, "multi", {"average": "weighted"}, None),
        (f"{_fn.__name__}-macro-n_classes", _fn, "multi",
         {"average": "macro", "n_classes": C + 1}, None),
    ]
# A distinct, odd sample count per case, so that no program cached by an earlier call
# (here or in another test module) hides a compilation.
CASES = [(f"{name}-{'weighted' if weighted else 'unweighted'}", fn, kind, kwargs, sk, weighted,
          211 + 2 * i)
         for i, ((name, fn, kind, kwargs, sk), weighted) in enumerate(
             (case, weighted) for case in _BASE for weighted in (False, True))]


def _traced(fn, args, kwargs, kind):
    """`fn` under `jax.jit`, every array traced, compiled with jaxfit's compiler options
    (XLA's other emitters may round the last bit differently)."""
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    static = {k: v for k, v in kwargs.items() if k not in arrays}
    if kind == "multi" and "n_classes" in inspect.signature(fn).parameters:
        # Traced labels need the number of classes.
        static.setdefault("n_classes", C)
    jitted = jax.jit(lambda a, kw: fn(*a, **kw, **static),
                     compiler_options=_compile.options(jax.default_backend()))
    return jitted(args, arrays)


@pytest.mark.parametrize("name, fn, kind, kwargs, sk, weighted, n", CASES,
                         ids=[case[0] for case in CASES])
def test_concrete_call_compiles_one_program_and_matches_jit(name, fn, kind, kwargs, sk,
                                                            weighted, n):
    rng = np.random.default_rng(n)
    args = _data(kind, rng, n)
    if weighted:
        w = rng.uniform(0.5, 2.0, n)
        w[rng.random(n) < 0.2] = 0.0  # zero weights drop samples out
        kwargs = {**kwargs, "sample_weight": w}
    eager, compiled = compiled_by(lambda: jax.block_until_ready(fn(*args, **kwargs)))
    assert len(compiled) <= 1, f"{name} compiled {len(compiled)} programs: {compiled}"

    traced = _traced(fn, args, kwargs, kind)
    assert eager.dtype == traced.dtype and eager.shape == traced.shape
    np.testing.assert_array_equal(eager, traced)
    if sk is not None:
        expected = sk(*args, sample_weight=kwargs.get("sample_weight"))
        np.testing.assert_allclose(eager, expected, rtol=1e-5, atol=1e-6)


def test_second_call_compiles_nothing_and_x64_gets_its_own_program():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 97), rng.integers(0, 2, 97)
    first = M.accuracy(y, p)
    again, compiled = compiled_by(M.accuracy, y, p)
    assert compiled == [] and again == first
    # The core builds its unit weights in the working float dtype: a float64 process
    # must not reuse the float32 program.
    with jax.enable_x64(True):
        assert M.accuracy(y, p).dtype == np.float64
    assert M.accuracy(y, p).dtype == np.float32
