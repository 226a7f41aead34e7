"""`fit`: reference solutions, vmap/jit invariance, mini-batches, stopping rules."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import jaxfit
from jaxfit import data, losses, models, penalties, solvers
from helpers import classification_problem, compiled_by, regression_problem


def test_gradient_descent_reaches_lstsq():
    X, y = regression_problem()
    result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.1),
                        steps=5000, tol=1e-6)
    assert bool(result.converged) and not bool(result.diverged)
    reference = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    got = np.r_[result.params["w"], result.params["b"]]
    np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)
    steps = int(result.n_steps)
    assert np.isfinite(result.history[:steps]).all() and np.isnan(result.history[steps:]).all()
    assert result.history[steps - 1] <= result.history[0]


def _standardized(name):
    ds = data.load_example(name)
    return StandardScaler().fit_transform(ds.X.astype(np.float64)), ds.y


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_l2_logistic_matches_sklearn(x64, C):
    X, y = _standardized("breast_cancer")
    reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    result = jaxfit.fit(models.logistic(), losses.binary_cross_entropy, X, y,
                        optimizer=optax.lbfgs(), penalty=penalties.l2(1.0 / (C * len(y))),
                        steps=500, tol=1e-8)
    assert bool(result.converged)
    np.testing.assert_allclose(result.params["w"], reference.coef_[0], rtol=1e-3,
                               atol=1e-3 * np.abs(reference.coef_).max())
    np.testing.assert_allclose(result.params["b"], reference.intercept_[0], rtol=1e-3, atol=1e-6)


def test_softmax_matches_sklearn_multinomial(x64):
    X, y = _standardized("wine")
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(X, y)
    result = jaxfit.fit(models.softmax(3), "softmax_cross_entropy", X, y, optimizer=optax.lbfgs(),
                        penalty=penalties.l2(1.0 / len(y)), steps=500, tol=1e-8)
    assert bool(result.converged)
    coef = np.asarray(result.params["w"]).T
    np.testing.assert_allclose(coef, reference.coef_, rtol=1e-3, atol=1e-3 * np.abs(reference.coef_).max())
    # Softmax biases are defined up to a constant shift; sklearn's are centred.
    b = np.asarray(result.params["b"])
    np.testing.assert_allclose(b - b.mean(), reference.intercept_ - reference.intercept_.mean(), atol=1e-4)


def test_vmap_over_learning_rates_equals_loop_and_traces_once():
    X, y = regression_problem(n=64, d=3)
    traces = []

    def counted_loss(outputs, y):
        traces.append(1)
        return losses.squared_error(outputs, y)

    def run(lr):
        return jaxfit.fit(models.linear(), counted_loss, X, y, optimizer=optax.sgd(lr), steps=200, tol=1e-5)

    lrs = jnp.array([0.01, 0.05, 0.2, 0.4])
    batched = jax.jit(jax.vmap(run))
    result = batched(lrs)
    n_traces = len(traces)
    batched(lrs * 0.9)  # new values, same shapes: no retrace
    assert len(traces) == n_traces
    for i, lr in enumerate(lrs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            single = run(float(lr))  # a concrete fit that runs out of steps says so
        assert any("did not converge" in str(w.message) for w in caught) != bool(single.converged)
        assert int(result.n_steps[i]) == int(single.n_steps)
        np.testing.assert_allclose(result.params["w"][i], single.params["w"], rtol=1e-5, atol=1e-6)
    assert len(set(np.asarray(result.n_steps).tolist())) > 1  # each lane stops on its own


def test_repeated_calls_with_new_data_do_not_recompile():
    X, y = regression_problem(n=64, d=3)
    optimizer, traces = optax.sgd(0.1), []

    def counted_loss(outputs, y):
        traces.append(1)
        return losses.squared_error(outputs, y)

    def call(scale):
        jaxfit.fit(models.linear(), counted_loss, X * scale, y, optimizer=optimizer,
                   penalty=penalties.l2(scale), steps=10)

    call(1.0)
    first = len(traces)
    call(2.0)
    call(3.0)
    assert len(traces) == first  # new values, same shapes: nothing is traced again

    X, y = regression_problem(n=64, d=3)
    run = jax.vmap(lambda s: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.1),
                                        penalty=penalties.l2(s), steps=300).params["w"])
    norms = np.linalg.norm(run(jnp.array([0.0, 1.0, 10.0])), axis=1)
    assert norms[0] > norms[1] > norms[2]


def _visit_counter(n, weight, batch_size, steps, key=0):
    """Params w[i] grow by 1/|batch| each time sample i is visited (X = identity)."""
    X = np.eye(n, dtype=np.float32)
    result = jaxfit.fit(models.linear(), lambda out, y: -out, X, np.zeros(n, np.float32),
                        optimizer=optax.sgd(1.0), steps=steps, batch_size=batch_size,
                        sample_weight=weight, key=jax.random.key(key))
    return np.asarray(result.params["w"]) * batch_size


@pytest.mark.parametrize("n_active", [24, 25])
def test_minibatches_visit_each_active_sample_once_per_epoch(n_active):
    n, batch_size = 40, 8
    weight = np.zeros(n, np.float32)
    active = np.random.default_rng(0).choice(n, n_active, replace=False)
    weight[active] = 1.0
    steps_per_epoch = -(-n_active // batch_size)
    for epochs in (1, 3):
        visits = _visit_counter(n, weight, batch_size, epochs * steps_per_epoch)
        if n_active % batch_size == 0:
            np.testing.assert_allclose(visits[active], epochs, rtol=1e-6)
        else:  # the short last batch weighs its samples by 1/len(batch): count visits instead
            assert (visits[active] > 0).all()
        np.testing.assert_array_equal(visits[weight == 0], 0.0)
    # Reshuffled every epoch: the first batch differs between epochs and between keys.
    first = _visit_counter(n, weight, batch_size, 1, key=0) > 0
    assert not np.array_equal(first, _visit_counter(n, weight, batch_size, 1, key=1) > 0)


def test_divergence_is_flagged_and_does_not_harm_other_lanes():
    X, y = regression_problem(n=64, d=3)
    run = lambda lr: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(lr), steps=300)
    with pytest.warns(RuntimeWarning, match=r"diverged at step \d+: the objective became non-finite"):
        bad = run(50.0)
    assert bool(bad.diverged) and int(bad.n_steps) < 300
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(bad.params))
    lrs = jnp.array([0.05, 50.0, 0.2])
    batched = jax.vmap(run)(lrs)
    np.testing.assert_array_equal(batched.diverged, [False, True, False])
    for i in (0, 2):
        np.testing.assert_allclose(batched.params["w"][i], run(float(lrs[i])).params["w"], rtol=1e-5)


def test_early_stopping_restores_best_params():
    X, y = classification_problem(n=240, d=4)
    train = np.r_[np.ones(160), np.zeros(80)].astype(np.float32)
    result = jaxfit.fit(models.mlp((32,)), "binary_cross_entropy", X, y, optimizer=optax.adam(0.05),
                        steps=2000, batch_size=32, sample_weight=train, validation_weight=1 - train,
                        patience=3)
    assert int(result.n_steps) < 2000
    val = np.asarray(result.validation_history)
    val = val[np.isfinite(val)]
    best = val.argmin()
    assert len(val) == best + 1 + 3  # stopped exactly `patience` epochs after the best
    val_loss = lambda p: float(jnp.average(losses.binary_cross_entropy(models.mlp((32,)).apply(p, X), y),
                                           weights=1 - train))
    assert val_loss(result.params) == pytest.approx(val[best], rel=1e-5)


def test_gradient_clipping_composes_from_optax():
    X, y = regression_problem(n=64, d=3)
    X = X * 100.0  # huge gradients: unclipped SGD diverges
    with pytest.warns(RuntimeWarning, match="diverged at step"):
        plain = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.01), steps=50)
    clipped = jaxfit.fit(models.linear(), "squared_error", X, y, steps=50,
                         optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.01)))
    assert bool(plain.diverged) and not bool(clipped.diverged)
    first_step = np.linalg.norm(np.r_[clipped.params["w"].ravel(), clipped.params["b"]])
    assert first_step <= 50 * 0.01 + 1e-5


def test_schedules_and_dropout_train():
    X, y = classification_problem(n=200, d=4)
    schedule = optax.cosine_decay_schedule(0.05, 300)
    result = jaxfit.fit(models.mlp((16,), dropout=0.2), "binary_cross_entropy", X, y,
                        optimizer=optax.adam(schedule), steps=300, batch_size=50)
    assert not bool(result.diverged) and int(result.n_steps) == 300
    accuracy = np.mean((np.asarray(models.mlp((16,)).apply(result.params, X)) > 0) == y)
    assert accuracy > 0.75


def test_sgd_tolerance_is_judged_on_whole_epochs_only():
    X, y = regression_problem(n=64, d=3, noise=1.0)
    # 8 steps an epoch; the last epoch is cut to one step by `steps`.
    run = jax.jit(jax.vmap(lambda k: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.01),
                                                steps=3 * 8 + 1, batch_size=8, tol=1e-3, key=k)))
    result = run(jax.random.split(jax.random.key(0), 32))
    epochs = np.asarray(result.history)[:, :24].reshape(32, 3, 8).mean(axis=2)
    # Every lane still improves by over 10% an epoch, far above tol: one batch of the
    # cut epoch, however noisy, must not make it "converged".
    assert (epochs[:, 1:] < 0.9 * epochs[:, :-1]).all()
    np.testing.assert_array_equal(result.n_steps, 25)
    np.testing.assert_array_equal(result.converged, False)
    # Whole epochs still stop the fit: with nothing to learn, the second epoch does.
    still = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.0), steps=100,
                       batch_size=8, tol=1e-3)
    assert bool(still.converged) and int(still.n_steps) == 16


def test_sgd_tolerance_weighs_each_batch_by_its_samples():
    # 101 samples in batches of 100: each epoch ends with a batch of one sample, which
    # a plain mean of the two batch objectives gave half the epoch's loss.
    X, y = regression_problem(n=101, d=3, noise=1.0)
    batch, tol = 100, 1e-2
    for seed in range(3):
        result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.01),
                            steps=400, batch_size=batch, tol=tol, key=jax.random.key(seed))
        # Reference: the rule of the docstring on the epoch's mean over its samples.
        history = np.asarray(result.history, np.float64)
        rows = np.array([batch, 101 - batch])
        epochs = (history[:400].reshape(200, 2) * rows).sum(axis=1) / 101
        met = epochs[:-1] - epochs[1:] < tol * np.maximum(np.abs(epochs[:-1]), 1.0)
        first = int(np.argmax(met)) + 1  # the epoch that met it, counted from 0
        assert met.any() and first > 5  # the fit improves well above tol at first
        assert bool(result.converged)
        assert int(result.n_steps) == 2 * (first + 1)


def test_params_as_python_numbers_or_integers_start_like_floats():
    X, y = regression_problem(n=32, d=3)
    fit = lambda params: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=SGD, steps=20,
                                    params=params).params
    reference = fit({"w": np.zeros(3, np.float32), "b": np.zeros((), np.float32)})
    for params in ({"w": np.zeros(3, np.float32), "b": 0.0}, {"w": np.zeros(3, int), "b": 0}):
        got = fit(params)
        assert got["w"].dtype == got["b"].dtype == np.float32
        np.testing.assert_allclose(got["w"], reference["w"], rtol=1e-6)
        np.testing.assert_allclose(got["b"], reference["b"], rtol=1e-6)


def test_default_params_are_init_with_the_first_half_of_the_key():
    X, y = classification_problem(n=40, d=3)
    model, key = models.mlp((4,)), jax.random.key(7)
    start = jaxfit.fit(model, "binary_cross_entropy", X, y, optimizer=optax.sgd(0.0), steps=1, key=key).params
    for a, b in zip(jax.tree_util.tree_leaves(start),  # as the docstring says
                    jax.tree_util.tree_leaves(model.init(jax.random.split(key)[0], 3))):
        np.testing.assert_array_equal(a, b)


def test_fit_inside_vmap_over_traced_data_does_not_raise():
    X, y = regression_problem(n=32, d=3)
    masks = jnp.asarray(np.random.default_rng(0).integers(0, 2, size=(3, 32)).astype(np.float32) + 0.0)
    masks = masks.at[:, 0].set(1.0)
    run = jax.jit(jax.vmap(lambda w, X: jaxfit.fit(models.linear(), "squared_error", X, y,
                                                   optimizer=optax.sgd(0.1), steps=20,
                                                   sample_weight=w).params["w"], in_axes=(0, None)))
    assert run(masks, X).shape == (3, 3)


X_OK, Y_OK = regression_problem(n=20, d=3)
SGD = optax.sgd(0.1)


def test_float32_data_under_x64_with_early_stopping(x64):
    # Models start in the default float (float64 here): the loop must follow X's dtype.
    validation = (np.arange(20) >= 15).astype(np.float32)
    result = jaxfit.fit(models.linear(), "squared_error", X_OK.astype(np.float32),
                        Y_OK.astype(np.float32), optimizer=SGD, steps=20,
                        validation_weight=validation)
    assert result.params["w"].dtype == result.history.dtype == np.float32
    assert np.isfinite(result.validation_history[:int(result.n_steps)]).all()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(X=X_OK[:, 0]), ValueError, "`X` must be a 2-D"),
    (dict(y=Y_OK[:10]), ValueError, "`y` has 10 rows"),
    (dict(X=np.where(np.eye(20, 3) > 0, np.nan, X_OK)), ValueError, "`X` contains"),
    (dict(y=np.r_[Y_OK[:-1], np.inf]), ValueError, "`y` contains"),
    (dict(X=np.zeros((0, 3))), ValueError, "`X` is empty"),
    (dict(X=np.zeros((20, 0))), ValueError, "`X` has no columns.*at least one feature"),
    (dict(loss="squared"), ValueError, "`loss` must be one of"),
    (dict(optimizer="adam"), TypeError, "`optimizer` must be an optax"),
    (dict(model=lambda x: x), TypeError, "`model` must be"),
    (dict(penalty=0.1), TypeError, "`penalty` must be"),
    (dict(steps=0), ValueError, "`steps` must be >= 1"),
    (dict(steps=2.5), TypeError, "`steps` must be an integer"),
    (dict(batch_size=0), ValueError, "`batch_size` must be >= 1"),
    (dict(sample_weight=-np.ones(20)), ValueError, "`sample_weight` must be non-negative"),
    (dict(sample_weight=np.zeros(20)), ValueError, "`sample_weight` is zero everywhere"),
    (dict(sample_weight=np.ones(5)), ValueError, "`sample_weight` has 5 rows"),
    (dict(patience=3), ValueError, "`patience` needs `validation_weight`"),
    (dict(tol=-1.0), ValueError, "`tol` must be >= 0"),
    (dict(key=0), TypeError, "`key` must be a JAX PRNG key"),
    (dict(X=np.array([["a", "b", "c"]] * 20)), TypeError, "`X` must hold numbers"),
    (dict(model=models.softmax(3), loss="softmax_cross_entropy", y=np.zeros((20, 2))), ValueError, "`y` of shape"),
    (dict(params={"w": np.zeros(5), "b": np.zeros(())}), ValueError, "`params` do not fit"),
    # A NaN start would otherwise be diagnosed as a divergence ("lower the learning rate").
    (dict(params={"w": np.array([0.0, np.nan, 0.0]), "b": np.zeros(())}), ValueError,
     r"`params\['w'\]` contains 1 NaN"),
    (dict(params={"w": np.zeros(3), "b": np.array(np.inf)}, optimizer=solvers.bound_cg(),
          model=models.logistic(), loss="binary_cross_entropy", y=(Y_OK > 0).astype(int)),
     ValueError, r"`params\['b'\]` contains 1 NaN or infinite"),
    # A column y would broadcast against [n] outputs into [n, n]: a wrong fit, no error.
    (dict(loss="absolute_error", y=Y_OK[:, None]), ValueError, "`y` of shape"),
    (dict(loss="huber", y=Y_OK[:, None]), ValueError, "`y` of shape"),
    (dict(y=np.arange(20) + 3_000_000_000), ValueError, "`y` holds integers.*int32"),
    # Binary losses too: a column y would broadcast against [n] logits into [n, n].
    (dict(model=models.logistic(), loss="binary_cross_entropy", y=(Y_OK[:, None] > 0).astype(int)),
     ValueError, r"`y` of shape \(20, 1\).*y.ravel\(\)"),
    (dict(model=models.logistic(), loss="hinge", y=(Y_OK[:, None] > 0).astype(int)),
     ValueError, r"`y` of shape \(20, 1\).*y.ravel\(\)"),
    (dict(model=models.softmax(3), loss="softmax_cross_entropy", y=np.eye(3)[np.arange(20) % 3]),
     ValueError, r"for one-hot rows pass y.argmax\(axis=1\)"),
    (dict(model=models.mlp((4,)), loss="softmax_cross_entropy", y=np.arange(20) % 3),
     ValueError, r"one output per class"),
    (dict(params={"w": np.array(["0", "0", "0"]), "b": 0.0}), TypeError, r"`params\['w'\]` must hold numbers"),
    # The params of a shallower mlp: its apply runs on them, training another model.
    (dict(model=models.mlp((4,)), params={"layers": [{"w": np.zeros((3, 1)), "b": np.zeros(1)}]}),
     ValueError, r"`params` do not fit the model: .*shapes of model.init\(key, 3\)"),
    # A list is a pytree of scalar leaves, not a vector.
    (dict(params={"w": [0.0, 0.0, 0.0], "b": 0.0}), ValueError, r"each leaf is one array"),
    # A column of weights: blamed on y ("does not fit the model outputs") before.
    (dict(params={"w": np.zeros((3, 1)), "b": np.zeros(1)}), ValueError, r"`params` do not fit the model:"),
])
def test_bad_input_raises_before_tracing(kwargs, error, match):
    args = dict(model=models.linear(), loss="squared_error", X=X_OK, y=Y_OK, optimizer=SGD, steps=5)
    args.update(kwargs)

    def call():
        with pytest.raises(error, match=match):
            jaxfit.fit(args.pop("model"), args.pop("loss"), args.pop("X"), args.pop("y"), **args)

    _, compiled = compiled_by(call)
    assert compiled == []  # refused in plain Python: no XLA program was built first
