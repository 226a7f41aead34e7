"""k-means (Lloyd and mini-batch) and the clustering metrics against scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.metrics import silhouette_samples
from sklearn.metrics import silhouette_score as sk_silhouette
from sklearn.preprocessing import StandardScaler

import jaxfit.cluster
from jaxfit.cluster import KMeansResult, assign, kmeans, minibatch_kmeans
from jaxfit.metrics._clustering import inertia, silhouette_score


def standardized(loader):
    return StandardScaler().fit_transform(loader().data)


@pytest.fixture
def blobs():
    X, _ = make_blobs(n_samples=600, n_features=5, centers=4, cluster_std=2.0, random_state=0)
    return X


def test_public_names():
    for name in ["kmeans", "minibatch_kmeans", "assign", "KMeansResult"]:
        assert callable(getattr(jaxfit.cluster, name))


@pytest.mark.parametrize("loader, rows", [(load_iris, [0, 1, 2]), (load_wine, [5, 60, 140, 170])])
def test_lloyd_matches_sklearn_from_same_init(x64, loader, rows):
    X = standardized(loader)
    init = X[rows]
    ours = kmeans(X, len(rows), init=init)
    ref = KMeans(len(rows), init=init, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_allclose(ours.centers, ref.cluster_centers_, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(ours.inertia, ref.inertia_, rtol=1e-4)
    np.testing.assert_array_equal(ours.labels, ref.labels_)
    assert int(ours.n_iter) == ref.n_iter_
    assert bool(ours.converged)


@pytest.mark.parametrize("loader", [load_iris, load_wine])
def test_kmeanspp_mean_inertia_matches_sklearn(x64, loader):
    # k = 4: with k = 3 both libraries occasionally land in a far worse local minimum,
    # and one such seed in 20 moves the mean by several percent either way.
    X = standardized(loader)
    keys = jax.random.split(jax.random.key(0), 20)
    ours = jax.vmap(lambda k: kmeans(X, 4, key=k, n_init=1).inertia)(keys)
    ref = [KMeans(4, n_init=1, random_state=s).fit(X).inertia_ for s in range(20)]
    np.testing.assert_allclose(np.mean(ours), np.mean(ref), rtol=0.02)


def test_restarts_keep_the_smallest_inertia(blobs, rng):
    starts = blobs[rng.choice(blobs.shape[0], size=(5, 6), replace=False)]  # 5 starts, k = 6
    best = kmeans(blobs, 6, init=starts)
    singles = [kmeans(blobs, 6, init=start) for start in starts]
    inertias = np.array([float(r.inertia) for r in singles])
    assert len(np.unique(np.round(inertias, 2))) > 1  # the restarts really differ
    np.testing.assert_allclose(best.inertia, inertias.min(), rtol=1e-5)
    np.testing.assert_allclose(best.centers, singles[int(inertias.argmin())].centers, rtol=1e-5)


def test_inertia_is_exact_for_tight_clusters_far_from_the_mean(rng):
    # float32; the loop's GEMM-form distances round to about eps·1000² per sample here.
    X = np.r_[rng.normal(size=(50, 2)) * 0.01 + 1000, rng.normal(size=(50, 2)) * 0.01 - 1000]
    X = X.astype(np.float32)
    result = kmeans(X, 2, key=jax.random.key(0))
    centers, labels = np.asarray(result.centers, np.float64), np.asarray(result.labels)
    exact = ((X - centers[labels]) ** 2).sum()
    np.testing.assert_allclose(float(result.inertia), exact, rtol=1e-3)
    np.testing.assert_allclose(float(result.inertia), KMeans(2, n_init=10, random_state=0).fit(X).inertia_,
                               rtol=1e-2)


def _split_far_groups(seed):
    """Three groups 1000 apart, each of two tight halves 1 apart (robust labels), and
    three starts for k = 4, each splitting another group. The restarts' inertias differ
    by about 0.5%; the loop's float32 GEMM form errs by eps·1000² per sample."""
    rng = np.random.default_rng(seed)
    halves = [[rng.normal(size=(15, 2)) * 0.01 + c + [sign * gap / 2, 0] for sign in (-1, 1)]
              for c, gap in zip([(1000, 0), (-1000, 0), (0, 1000)], rng.permutation([1.0, 1.003, 1.006]))]
    X = np.concatenate([np.concatenate(h) for h in halves]).astype(np.float32)
    means = [np.concatenate(h).mean(0) for h in halves]
    starts = [[m for j, m in enumerate(means) if j != i] + [h.mean(0) for h in halves[i]] for i in range(3)]
    return X, np.array(starts, np.float32)


def _exact_inertia(X, result):
    centers = np.asarray(result.centers, np.float64)
    return ((X.astype(np.float64) - centers[np.asarray(result.labels)]) ** 2).sum()


def test_restarts_are_ranked_by_exact_inertia(monkeypatch):
    # The seeds where ranking by the loop's GEMM-form inertia kept a worse restart.
    import jaxfit.cluster._kmeans as km

    calls = []
    rerank = km._rerank
    monkeypatch.setattr(km, "_rerank", lambda *a: calls.append(1) or rerank(*a))
    data = [_split_far_groups(seed) for seed in (0, 1, 2)]
    jitted = jax.jit(lambda X, starts: kmeans(X, 4, init=starts))
    batched = jax.vmap(jitted)(*map(np.stack, zip(*data)))
    for i, (X, starts) in enumerate(data):
        singles = [kmeans(X, 4, init=start) for start in starts]
        exact = [_exact_inertia(X, r) for r in singles]  # NumPy float64
        assert max(exact) > 1.002 * min(exact)  # the restarts really differ
        for result in (kmeans(X, 4, init=starts), jitted(X, starts),
                       jax.tree.map(lambda a: a[i], batched)):
            np.testing.assert_allclose(_exact_inertia(X, result), min(exact), rtol=1e-5)
            np.testing.assert_allclose(result.inertia, min(exact), rtol=1e-5)
            np.testing.assert_allclose(result.centers, singles[int(np.argmin(exact))].centers, atol=1e-4)
    assert calls  # eagerly, these data need the exact ranking
    calls.clear()
    X, _ = make_blobs(n_samples=300, n_features=3, centers=4, cluster_std=0.5, random_state=0)
    kmeans(X, 4, key=jax.random.key(0), n_init=5)
    assert not calls  # every restart finds these blobs: nothing more to compile


def test_weights_equal_repetition(x64, blobs, rng):
    w = rng.integers(0, 4, size=blobs.shape[0])
    init = blobs[[0, 10, 20, 30]]
    weighted = kmeans(blobs, 4, init=init, sample_weight=w)
    repeated = kmeans(np.repeat(blobs, w, axis=0), 4, init=init)
    np.testing.assert_allclose(weighted.centers, repeated.centers, rtol=1e-10)
    np.testing.assert_allclose(weighted.inertia, repeated.inertia, rtol=1e-10)
    np.testing.assert_array_equal(np.repeat(weighted.labels, w), repeated.labels)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_zero_weight_samples_are_ignored(blobs, init):
    # A 0/1 mask clusters the fold alone: seeding and means never touch masked rows.
    mask = np.zeros(blobs.shape[0])
    mask[:300] = 1
    result = kmeans(blobs, 4, key=jax.random.key(0), init=init, sample_weight=mask)
    labels = np.asarray(result.labels)
    for j in range(4):
        np.testing.assert_allclose(result.centers[j], blobs[:300][labels[:300] == j].mean(0),
                                   rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result.inertia, inertia(blobs[:300], result.centers), rtol=1e-5)


def test_assign_matches_labels_and_sklearn_predict(blobs):
    result = kmeans(blobs, 4, key=jax.random.key(0))
    np.testing.assert_array_equal(assign(result.centers, blobs), result.labels)
    ref = KMeans(4, n_init=1, random_state=0).fit(blobs)
    new = blobs[:50] + 0.3
    np.testing.assert_array_equal(assign(ref.cluster_centers_, new), ref.predict(new))


@pytest.mark.parametrize("n_far", [1, 2])
def test_empty_clusters_are_relocated_as_sklearn(x64, blobs, n_far):
    far = np.full((n_far, blobs.shape[1]), 100.0) + np.arange(n_far)[:, None]  # no sample near
    init = np.vstack([blobs[:4 - n_far], far])
    ours = kmeans(blobs, 4, init=init)
    ref = KMeans(4, init=init, n_init=1, algorithm="lloyd").fit(blobs)
    assert len(np.unique(ours.labels)) == 4
    np.testing.assert_allclose(ours.centers, ref.cluster_centers_, rtol=1e-6)
    np.testing.assert_allclose(ours.inertia, ref.inertia_, rtol=1e-6)


def test_random_init_and_extreme_k(x64, blobs):
    pp = kmeans(blobs, 4, key=jax.random.key(0))
    rand = kmeans(blobs, 4, key=jax.random.key(0), init="random")
    np.testing.assert_allclose(rand.inertia, pp.inertia, rtol=0.01)
    one = kmeans(blobs[:20], 1, key=jax.random.key(0))
    np.testing.assert_allclose(one.centers[0], blobs[:20].mean(0), rtol=1e-10)
    every = kmeans(blobs[:20], 20, key=jax.random.key(0), n_init=1)
    np.testing.assert_allclose(every.inertia, 0.0, atol=1e-10)


def test_iteration_limit_is_reported(blobs):
    result = kmeans(blobs, 4, init=blobs[:4], max_iter=1)
    assert int(result.n_iter) == 1 and not bool(result.converged)


def test_jit_and_vmap_over_seeds_compile_once(blobs):
    keys = jax.random.split(jax.random.key(1), 4)
    fit = jax.jit(lambda k: kmeans(blobs, 4, key=k, n_init=1))
    batched = jax.vmap(fit)(keys)
    assert isinstance(batched, KMeansResult) and batched.centers.shape == (4, 4, 5)
    looped = [kmeans(blobs, 4, key=k, n_init=1) for k in keys]
    np.testing.assert_allclose(batched.inertia, [r.inertia for r in looped], rtol=1e-4)
    from jaxfit.cluster._kmeans import _kmeans
    size = _kmeans._cache_size()
    kmeans(blobs, 4, key=jax.random.key(7), n_init=1, tol=1e-3)  # new key and tol: no retrace
    assert _kmeans._cache_size() == size


def test_vmap_over_fold_masks_equals_loop(blobs, rng):
    masks = (rng.random((3, blobs.shape[0])) < 0.7).astype(np.float32)
    fit = lambda m: kmeans(blobs, 4, key=jax.random.key(0), sample_weight=m)  # noqa: E731
    batched = jax.vmap(fit)(masks)
    for i, mask in enumerate(masks):
        looped = fit(mask)
        np.testing.assert_allclose(batched.inertia[i], looped.inertia, rtol=1e-5)
        np.testing.assert_allclose(batched.centers[i], looped.centers, rtol=1e-5, atol=1e-5)
        score = silhouette_score(blobs, batched.labels[i], n_clusters=4, sample_weight=mask)
        np.testing.assert_allclose(score, silhouette_score(blobs[mask > 0],
                                                           looped.labels[mask > 0]), rtol=1e-5)


def test_minibatch_close_to_full_kmeans_under_vmap():
    X, _ = make_blobs(n_samples=5000, n_features=8, centers=6, random_state=1)
    full = kmeans(X, 6, key=jax.random.key(0))
    keys = jax.random.split(jax.random.key(0), 3)
    mini = jax.vmap(lambda k: minibatch_kmeans(X, 6, key=k, batch_size=256))(keys)
    ref = MiniBatchKMeans(6, batch_size=256, random_state=0, n_init=3).fit(X)
    assert isinstance(mini, KMeansResult) and bool(np.all(mini.converged))
    np.testing.assert_allclose(mini.inertia, full.inertia, rtol=0.05)
    np.testing.assert_allclose(np.mean(mini.inertia), ref.inertia_, rtol=0.05)
    np.testing.assert_array_equal(assign(mini.centers[0], X), mini.labels[0])


def _skipped_by_a_float32_running_sum(w):
    """Rows whose weight a float32 cumulative sum over all rows does not add (past 2^24
    it grows by 0 or 2 per unit weight): the old sampler's CDF never drew them."""
    return np.diff(np.r_[0.0, np.asarray(jnp.cumsum(jnp.asarray(w)))]) == 0


def test_minibatch_sampler_draws_rows_by_weight():
    from jaxfit.cluster._minibatch import _draw, _sampler

    n = 2**20 + 1
    w = np.ones(n, np.float32)
    w[0] = 2.0**24  # the running sum passes 2^24 at once
    skipped = _skipped_by_a_float32_running_sum(w)
    assert skipped.sum() > n // 3
    draws = 2**18
    # `w` an argument, as in the library: closed over, XLA would constant-fold its sums (6 s).
    idx = np.asarray(jax.jit(lambda k, w: _draw(k, _sampler(w), n, draws))(jax.random.key(0), w))
    for rows in (skipped, np.arange(n) == 0):  # each against Σw_i/Σw (float64), 5 binomial sd
        p = w[rows].sum(dtype=np.float64) / w.sum(dtype=np.float64)
        assert abs(rows[idx].mean() - p) < 5 * np.sqrt(p * (1 - p) / draws)

    rng = np.random.default_rng(0)
    w = rng.uniform(size=1000).astype(np.float32)
    w[rng.random(1000) < 0.2] = 0.0
    idx = np.asarray(_draw(jax.random.key(1), _sampler(jnp.asarray(w)), 1000, draws))
    freq = np.bincount(idx, minlength=1000) / draws
    assert freq[w == 0].sum() == 0
    p = w / w.sum(dtype=np.float64)
    z = (freq - p)[w > 0] / np.sqrt(p * (1 - p) / draws)[w > 0]
    assert np.abs(z).max() < 5 and 0.8 < np.mean(z**2) < 1.2  # chi-square per degree of freedom
    freq = np.bincount(np.asarray(_draw(jax.random.key(2), None, 10, draws)), minlength=10) / draws
    np.testing.assert_allclose(freq, 0.1, atol=5 * np.sqrt(0.09 / draws))  # unit weights


def test_minibatch_finds_a_cluster_that_a_float32_running_sum_skips():
    n = 2**20 + 1
    w = np.ones(n, np.float32)
    w[0] = 2.0**24
    skipped = _skipped_by_a_float32_running_sum(w)
    X = np.where(skipped, 1000.0, -1000.0).astype(np.float32)[:, None]  # 1/4 of the weight at +1000
    X[0] = 0.0
    result = minibatch_kmeans(X, 3, key=jax.random.key(0), batch_size=1024, sample_weight=w)
    # The optimum (NumPy float64): one center per value, inertia 0.
    np.testing.assert_allclose(np.sort(np.asarray(result.centers)[:, 0]), [-1000.0, 0.0, 1000.0], atol=1e-2)
    assert float(result.inertia) < 1.0  # 5e11 when the +1000 rows are never drawn


@pytest.mark.parametrize("labels_fn", [
    lambda y, rng: y,
    lambda y, rng: np.array([3, 7, 9])[y],  # non-contiguous labels are encoded
    lambda y, rng: rng.integers(0, 4, size=y.shape[0]),
])
def test_silhouette_matches_sklearn(x64, rng, labels_fn):
    X = standardized(load_iris)
    labels = labels_fn(load_iris().target, rng)
    np.testing.assert_allclose(silhouette_score(X, labels), sk_silhouette(X, labels), rtol=1e-5)


def test_silhouette_float32_and_singletons(rng):
    X = rng.normal(size=(80, 3))
    labels = rng.integers(0, 3, size=80)
    labels[0] = 3  # a singleton cluster scores 0 for its member
    np.testing.assert_allclose(silhouette_score(X, labels), sk_silhouette(X, labels), rtol=1e-4)


def test_silhouette_of_nearby_clusters_far_from_the_mean(rng):
    # float32: GEMM-form distances relative to the mean scored 0.35 here.
    m = 30
    X = np.r_[rng.normal(size=(m, 2)) * 0.01 + [1000, 0], rng.normal(size=(m, 2)) * 0.01 + [1000, 0.05],
              rng.normal(size=(m, 2)) * 0.01 + [-1000, 0]].astype(np.float32)
    labels = np.repeat([0, 1, 2], m)
    exact = sk_silhouette(X.astype(np.float64), labels)
    np.testing.assert_allclose(silhouette_score(X, labels), exact, rtol=1e-4)
    mask = (rng.random(3 * m) < 0.7).astype(np.float32)
    traced = jax.jit(lambda lab, w: silhouette_score(X, lab, n_clusters=3, sample_weight=w))(labels, mask)
    keep = mask > 0
    np.testing.assert_allclose(traced, sk_silhouette(X[keep].astype(np.float64), labels[keep]), rtol=1e-4)


def test_silhouette_weights(x64, rng):
    X = rng.normal(size=(90, 4))
    labels = rng.integers(0, 3, size=90)
    mask = (rng.random(90) < 0.6).astype(float)
    keep = mask > 0
    np.testing.assert_allclose(silhouette_score(X, labels, sample_weight=mask),
                               sk_silhouette(X[keep], labels[keep]), rtol=1e-10)
    w = mask * rng.uniform(0.5, 2.0, size=90)
    s = silhouette_samples(X[keep], labels[keep])
    np.testing.assert_allclose(silhouette_score(X, labels, sample_weight=w),
                               np.average(s, weights=w[keep]), rtol=1e-10)


def test_silhouette_traced_labels_need_n_clusters(rng):
    X = rng.normal(size=(40, 2))
    labels = rng.integers(0, 3, size=40)
    traced = jax.jit(lambda lab: silhouette_score(X, lab, n_clusters=3))(labels)
    np.testing.assert_allclose(traced, sk_silhouette(X, labels), rtol=1e-4)
    with pytest.raises(ValueError, match="n_clusters"):
        jax.jit(lambda lab: silhouette_score(X, lab))(labels)


def test_inertia_matches_sklearn(x64, blobs, rng):
    ref = KMeans(4, n_init=1, random_state=0).fit(blobs)
    np.testing.assert_allclose(inertia(blobs, ref.cluster_centers_), ref.inertia_, rtol=1e-10)
    w = rng.uniform(0, 2, size=blobs.shape[0])
    np.testing.assert_allclose(inertia(blobs, ref.cluster_centers_, sample_weight=w),
                               -ref.score(blobs, sample_weight=w), rtol=1e-10)


X_GOOD = np.random.default_rng(0).normal(size=(20, 3))
X_NAN = X_GOOD.copy()
X_NAN[2, 1] = np.nan
KEY = jax.random.key(0)


@pytest.mark.parametrize("fn, args, kwargs, error, match", [
    (kmeans, (X_GOOD, 21), {"key": KEY}, ValueError, "n_clusters"),
    (kmeans, (X_GOOD, 0), {"key": KEY}, ValueError, "n_clusters"),
    (kmeans, (X_GOOD, 2.5), {"key": KEY}, TypeError, "n_clusters"),
    (kmeans, (X_NAN, 2), {"key": KEY}, ValueError, "X"),
    (kmeans, (X_GOOD[:, 0], 2), {"key": KEY}, ValueError, "X"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "init": "kmeans++"}, ValueError, "init"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "init": X_GOOD[:3]}, ValueError, "init"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "init": X_GOOD[:2, :2]}, ValueError, "init"),
    (kmeans, (X_GOOD, 2), {"init": X_GOOD[:6].reshape(2, 3, 3)}, ValueError, "init"),
    (minibatch_kmeans, (X_GOOD, 2), {"key": KEY, "init": X_GOOD[:4].reshape(2, 2, 3)},
     ValueError, "init"),
    (kmeans, (X_GOOD, 2), {}, ValueError, "key"),
    (kmeans, (X_GOOD, 2), {"key": 0}, TypeError, "key"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "n_init": 0}, ValueError, "n_init"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "max_iter": 0}, ValueError, "max_iter"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "tol": -1.0}, ValueError, "tol"),
    (kmeans, (X_GOOD, 2), {"key": KEY, "sample_weight": np.ones(5)}, ValueError, "sample_weight"),
    (kmeans, (X_GOOD, 3), {"key": KEY, "sample_weight": np.eye(20)[0] + np.eye(20)[1]},
     ValueError, "sample_weight"),
    (minibatch_kmeans, (X_GOOD, 2), {"init": X_GOOD[:2]}, ValueError, "key"),
    (minibatch_kmeans, (X_GOOD, 2), {"key": KEY, "batch_size": 0}, ValueError, "batch_size"),
    (minibatch_kmeans, (X_GOOD, 2), {"key": KEY, "reassignment_ratio": 2.0}, ValueError,
     "reassignment_ratio"),
    (minibatch_kmeans, (X_GOOD, 21), {"key": KEY}, ValueError, "n_clusters"),
    (assign, (X_GOOD[:2, :2], X_GOOD), {}, ValueError, "centers"),
    (inertia, (X_NAN, X_GOOD[:2]), {}, ValueError, "X"),
    (silhouette_score, (X_GOOD, np.zeros(20)), {}, ValueError, "labels"),
    (silhouette_score, (X_GOOD, np.arange(20)), {}, ValueError, "labels"),
    (silhouette_score, (X_GOOD, np.zeros(19)), {}, ValueError, "labels"),
    (silhouette_score, (X_GOOD, np.arange(20) % 3), {"n_clusters": 2}, ValueError, "labels"),
])
def test_bad_input(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_seeding_uniform_equals_jax_random_uniform(size):
    from jaxfit.cluster import _seeding

    for seed in (0, 123):
        key = jax.random.key(seed)
        np.testing.assert_array_equal(_seeding._uniform(key, size, jnp.float32),
                                      jax.random.uniform(key, (size,), jnp.float32))


def test_seeding_sample_follows_its_weights_and_skips_zero_weight():
    from jaxfit.cluster import _seeding

    size = 8
    rng = np.random.default_rng(0)
    p = rng.random(size * size).astype(np.float32)
    p[rng.random(size * size) < 0.4] = 0.0  # zero-weight samples are never drawn
    u = jnp.asarray(rng.random((1, 2, 20_000)), jnp.float32)  # one uniform per level
    idx = np.asarray(_seeding._sample(u, jnp.asarray(p)[None], size, fallback=-1))[0]
    assert (idx >= 0).all() and (p[idx] > 0).all()
    freq = np.bincount(idx, minlength=size * size) / idx.size
    np.testing.assert_allclose(freq, p / p.sum(), atol=0.012)


def test_seeding_sample_resolves_rows_within_a_light_block():
    # 2^18 rows: row 0 holds all but 2^18 - 1 of a total weight 2^24, the others weigh 1.
    # One float32 uniform (23 bits) for both levels puts thresholds 2 apart in the light
    # blocks, so every odd row was skipped and every even one drawn twice as often.
    from jaxfit.cluster import _seeding

    size, draws = 512, 2**15
    p = np.ones(size * size, np.float32)
    p[0] = 2.0**24 - (size * size - 1)
    u = jax.random.uniform(jax.random.key(0), (1, 2, draws), jnp.float32)  # as kmeans draws them
    # `p` an argument: closed over, XLA would constant-fold its running sums.
    idx = np.asarray(jax.jit(lambda u, p: _seeding._sample(u, p[None], size, -1))(u, p)).ravel()
    odd = idx % 2 == 1
    observed = np.array([np.sum(idx == 0), np.sum(odd), np.sum(~odd & (idx > 0))])
    expected = idx.size * np.array([p[0], size * size / 2, size * size / 2 - 1]) / p.sum(dtype=np.float64)
    chi2 = np.sum((observed - expected) ** 2 / expected)
    # 2 degrees of freedom: P(chi2 > 20) = 5e-5; the old sampler scored 1008 (no odd row drawn).
    assert chi2 < 20


def test_silhouette_with_many_clusters_matches_sklearn(x64, rng):
    # Past `_FEW_CLUSTERS` distances and cluster sums come from lookups and segment sums.
    X = rng.normal(size=(400, 3)) * 0.05 + rng.normal(size=(100, 3))[rng.integers(0, 100, 400)] + 1000
    labels = rng.integers(0, 100, size=400)
    np.testing.assert_allclose(silhouette_score(X, labels), sk_silhouette(X, labels), rtol=1e-9)
    masks = (rng.random((2, 400)) < 0.7).astype(float)
    batched = jax.vmap(lambda m: silhouette_score(X, labels, n_clusters=100, sample_weight=m))(masks)
    for mask, score in zip(masks, batched):
        keep = mask > 0
        np.testing.assert_allclose(score, sk_silhouette(X[keep], labels[keep]), rtol=1e-9)
    w = masks[0] * rng.uniform(0.5, 2.0, size=400)
    keep = w > 0
    np.testing.assert_allclose(silhouette_score(X, labels, sample_weight=w),
                               np.average(silhouette_samples(X[keep], labels[keep]), weights=w[keep]),
                               rtol=1e-9)


def test_silhouette_work_per_pair_does_not_grow_with_the_clusters():
    # One-hot GEMMs for every cluster cost ~6k flops per pair: 100 times more at k = 400
    # than at k = 2 (XLA's cost analysis of the lowered program; nothing is compiled).
    from jaxfit.metrics._clustering import _silhouette

    n = 1000
    X = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    flops = {k: jax.jit(_silhouette.__wrapped__, static_argnames="n_clusters").lower(
        X, np.arange(n, dtype=np.int32) % k, None, n_clusters=k).cost_analysis()["flops"] / n**2
        for k in (2, 400)}
    assert flops[400] < 2 * flops[2]
