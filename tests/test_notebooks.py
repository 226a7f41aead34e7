"""Every notebook runs top to bottom in a fresh kernel, is stored without outputs, and
what its prose claims holds for what its cells computed."""

import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 180  # seconds; the slowest cell compiles a search on a busy 2-core machine

# Run in each notebook's kernel after its last cell: the claims its prose makes, checked
# on the values its cells computed, against scikit-learn where the prose names it.
CLAIMS = {
    "01_quickstart": """
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
assert bool(result.converged) and not bool(result.diverged)
# "The penalty l2(1/n) is scikit-learn's default LogisticRegression(C=1)" (a factor 2 off
# moves the weights by 0.3); the estimator agrees with both to its tolerance.
sk = SkLogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(
    np.asarray(Z_train, np.float64), np.asarray(y_train))
assert np.abs(np.asarray(result.params["w"]) - sk.coef_.ravel()).max() < 5e-3
assert np.abs(np.ravel(clf.coef_) - sk.coef_.ravel()).max() < 1e-2
assert (np.asarray(clf.predict(Z_test)) == np.asarray(logits > 0)).all()  # "the predictions are the same"
assert same  # "predictions identical after loading"
""",
    "02_cross_validation_and_search": """
assert set(cv.status) == {"converged"} and set(result.status.ravel()) == {"converged"}
# "the differences between the best few strengths are well within" one standard deviation
top = result.to_pandas().sort_values("rank_test_score").head(3)
assert top.mean_test_score.max() - top.mean_test_score.min() < top.std_test_score.min()
assert np.allclose(loop_scores, adam_result.scores, atol=1e-5)  # the race ran the same fits
""",
    "03_regularization": """
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
Xn, yn = np.asarray(X, np.float64), np.asarray(y, np.float64)
exact = dict(tol=1e-12, max_iter=100_000)
# jaxfit's squared_error is (f - y)²: l2(s) is Ridge(alpha=n·s/2), l1(s) is Lasso(alpha=s/2),
# elastic_net(s, r) is ElasticNet(alpha=s/2, l1_ratio=r).
np.testing.assert_allclose(least_squares.params["w"], LinearRegression().fit(Xn, yn).coef_, atol=1e-2)
np.testing.assert_allclose(ridge.params["w"], Ridge(alpha=len(yn) * strength / 2).fit(Xn, yn).coef_,
                           atol=1e-2)
sk_lasso = Lasso(alpha=strength / 2, **exact).fit(Xn, yn).coef_
np.testing.assert_allclose(lasso.params["w"], sk_lasso, atol=1e-2)
assert ((np.asarray(lasso.params["w"]) == 0) == (sk_lasso == 0)).all() and (sk_lasso == 0).any()
assert (np.asarray(ridge.params["w"]) != 0).all() and (np.asarray(adam_l1.params["w"]) != 0).all()
# plain Adam: "almost the same objective, with almost the same weights"
assert lasso_objective(adam_l1.params) < 1.001 * lasso_objective(lasso.params)
np.testing.assert_allclose(adam_l1.params["w"], sk_lasso, atol=0.5)
assert (np.asarray(path.params["w"][0]) == 0).all() and (np.asarray(path.params["w"][-1]) != 0).all()
assert np.asarray(path.converged).all() and set(cv.status.ravel()) == {"converged"}
for ratio, net in nets.items():
    sk_net = ElasticNet(alpha=strength / 2, l1_ratio=ratio, **exact).fit(Xn, yn).coef_
    np.testing.assert_allclose(net.params["w"], sk_net, atol=1e-2)
    if ratio < 1:  # "none below at 0.5 or 0.1"; s3 and s4 share the weight
        assert (sk_net != 0).all() and sk_net[s3] < 0 < sk_net[s4]
assert sk_lasso[s3] < 0 == sk_lasso[s4] and np.corrcoef(Xn[:, s3], Xn[:, s4])[0, 1] < -0.5
""",
    "04_neural_networks": """
plain, dropped = (np.asarray(fits[p].validation_history) for p in (0.0, 0.5))
best_plain, best_dropped = int(np.nanargmin(plain)) + 1, int(np.nanargmin(dropped)) + 1
assert 50 <= best_plain <= 110 and plain[-1] > np.nanmin(plain) + 0.01  # "turns up after about 80"
assert best_dropped > best_plain  # "bottoms out later"
assert float(fits[0.5].history[-1]) > 5 * float(fits[0.0].history[-1])  # "stays far higher"
assert abs(np.nanmin(plain) - np.nanmin(dropped)) < 0.01  # "about the same best"
diverged = np.asarray(runs.diverged)
assert diverged.any() and not diverged.all() and (np.diff(diverged.astype(int)) >= 0).all()
assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(runs.params))
""",
    "05_unsupervised": """
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
Xn = np.asarray(X, np.float64)
np.testing.assert_allclose(model.explained_variance_ratio, PCA(4).fit(Xn).explained_variance_ratio_,
                           atol=1e-4)
assert float(np.sum(model.explained_variance_ratio[:2])) > 0.9  # "most of the variance"
inertias = [float(fits[k].inertia) for k in ks]
assert all(a > b for a, b in zip(inertias, inertias[1:]))
assert inertias[2] <= KMeans(3, n_init=10, random_state=0).fit(Xn).inertia_ * (1 + 1e-4)
table = pd.crosstab(pd.Series(labels, name="cluster"), pd.Series(species, name="species"))
setosa = table["setosa"] == 50  # "one cluster is setosa exactly"
assert setosa.sum() == 1 and table[setosa].to_numpy().sum() == 50
""",
}


def test_there_are_five_stories():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]
    assert sorted(CLAIMS) == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4  # prose tells the story


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CLAIMS[path.stem]))
    # The "python3" kernel is ipykernel's native one: jupyter_client starts it with this
    # interpreter (sys.executable), so the notebook sees the jaxfit under test.
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the story has no plot"
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert not re.search(r"\w+Warning:", stderr), stderr
