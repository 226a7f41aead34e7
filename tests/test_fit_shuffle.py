"""Mini-batch shuffling: the keyed permutation `fit` draws its batches from, and the
batches `fit` takes with it (each active sample once per epoch, under vmap too)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxfit
from jaxfit import models
from jaxfit._shuffle import permute

SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 255, 256, 257, 1000, 4097, 20_000]


@pytest.mark.parametrize("n", SIZES)
def test_permute_is_a_bijection_of_0_to_n(n):
    keys = jax.random.split(jax.random.key(0), 8)
    images = np.asarray(jax.vmap(lambda k: permute(k, jnp.arange(n), n))(keys))
    assert images.dtype == np.int32
    for row in images:
        np.testing.assert_array_equal(np.sort(row), np.arange(n))


def test_permute_with_traced_size_and_per_lane_sizes():
    sizes = jnp.array(SIZES[:-1])  # each lane its own domain, padded to the largest
    top = int(sizes.max())
    images = jax.jit(jax.vmap(lambda k, n: permute(k, jnp.arange(top), n)))(
        jax.random.split(jax.random.key(1), len(sizes)), sizes)
    for n, row in zip(np.asarray(sizes), np.asarray(images)):
        np.testing.assert_array_equal(np.sort(row[:n]), np.arange(n))


def test_permute_large_domain_and_out_of_range_indices():
    n = 2**31 - 1
    index = jnp.concatenate([jnp.arange(5000), n - 1 - jnp.arange(5000)])
    images = np.asarray(permute(jax.random.key(2), index, n)).astype(np.int64)
    assert ((images >= 0) & (images < n)).all() and len(np.unique(images)) == len(images)
    # Outside [0, n): mapped as 0 is (and the walk back into the domain ends).
    outside = permute(jax.random.key(2), jnp.array([-1, 7, 9, 1000]), 7)
    np.testing.assert_array_equal(outside, permute(jax.random.key(2), jnp.zeros(4, jnp.int32), 7))


def test_permute_is_deterministic_and_keyed():
    n = 1000
    run = jax.jit(lambda k: permute(k, jnp.arange(n), n))
    a, b = run(jax.random.key(3)), permute(jax.random.key(3), jnp.arange(n), n)
    assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    orders = {np.asarray(run(k)).tobytes() for k in jax.random.split(jax.random.key(0), 50)}
    assert len(orders) == 50
    assert not np.array_equal(a, np.arange(n))
    # The counter (fit passes the epoch's first step) selects other permutations.
    by_counter = {np.asarray(permute(jax.random.key(3), jnp.arange(n), n, c)).tobytes() for c in range(50)}
    assert len(by_counter) == 50 and a.tobytes() in by_counter  # counter 0 is the default
    # Keys of another implementation (more words of key data) work the same way.
    rbg = [permute(jax.random.key(s, impl="rbg"), jnp.arange(n), n) for s in (0, 1)]
    np.testing.assert_array_equal(np.sort(rbg[0]), np.arange(n))
    assert not np.array_equal(rbg[0], rbg[1])


def test_permute_is_close_to_uniform():
    # Over many keys, each index lands on each position about equally often, for a
    # domain that is a power of two (no walking) and one just past it (most walking).
    n_keys = 4000
    keys = jax.random.split(jax.random.key(4), n_keys)
    for n in (8, 9):
        images = np.asarray(jax.vmap(lambda k: permute(k, jnp.arange(n), n))(keys))
        counts = np.zeros((n, n))
        np.add.at(counts, (np.repeat(np.arange(n)[None], n_keys, 0), images), 1)
        expected = n_keys / n
        chi2 = ((counts - expected) ** 2 / expected).sum()
        # (n-1)² degrees of freedom: 49 or 64; the 99.9% quantiles are 86 and 106.
        assert chi2 < 2.0 * (n - 1) ** 2, (n, chi2)
        # Consecutive indices land on neighbouring positions as often as by chance (2/n).
        adjacent = np.mean(np.abs(np.diff(images, axis=1)) == 1)
        assert abs(adjacent / (2 / n) - 1) < 0.12, (n, adjacent)


@pytest.mark.parametrize("distance", [1, 2, 3, 64])
def test_permute_does_not_keep_nearby_ranks_together(distance):
    # What SGD needs: ranks close in the input (in binary) are no likelier than chance
    # to fall in the same batch. (With four Feistel rounds, ranks 1 or 2 apart were
    # ~20-27% likelier.)
    n, batch_size, n_keys = 1000, 4, 1000
    keys = jax.random.split(jax.random.key(5), n_keys)
    batch = np.asarray(jax.vmap(lambda k: permute(k, jnp.arange(n), n))(keys)) // batch_size
    together = np.mean(batch[:, :-distance] == batch[:, distance:])
    sizes = np.bincount(np.arange(n) // batch_size)
    chance = (sizes * (sizes - 1)).sum() / (n * (n - 1))
    assert abs(together / chance - 1) < 0.1, together / chance


def _visits(weight, batch_size, steps, key, lr=1.0):
    """`lr / |batch|` added to w[i] each time sample i is in a batch (X = identity)."""
    n = weight.shape[-1]
    result = jaxfit.fit(models.linear(), lambda out, y: -out, jnp.eye(n), jnp.zeros(n),
                        optimizer=optax.sgd(lr), steps=steps, batch_size=batch_size,
                        sample_weight=weight, key=key)
    return result.params["w"] * batch_size / lr


def test_fit_under_vmap_visits_each_active_sample_once_per_epoch():
    # Lanes as in `search`: folds (different active sets) × configurations (learning
    # rates) × keys; every lane runs its own epochs.
    n, batch_size, n_active = 60, 8, 32
    rng = np.random.default_rng(0)
    weight = np.zeros((3, n), np.float32)
    for row in weight:
        row[rng.choice(n, n_active, replace=False)] = 1.0
    per_epoch = n_active // batch_size
    lrs = jnp.array([0.5, 1.0])
    keys = jax.random.split(jax.random.key(5), 2)
    for epochs in (1, 2, 5):
        run = lambda w, lr, k: _visits(w, batch_size, epochs * per_epoch, k, lr)
        visits = jax.vmap(jax.vmap(jax.vmap(run, (None, None, 0)), (None, 0, None)), (0, None, None))(
            jnp.asarray(weight), lrs, keys)
        visits = np.asarray(visits)
        mask = np.broadcast_to(weight[:, None, None, :], visits.shape) > 0
        np.testing.assert_allclose(visits[mask], epochs, rtol=1e-5)
        np.testing.assert_array_equal(visits[~mask], 0.0)


def test_fit_short_last_batch_and_reshuffle_every_epoch():
    n, batch_size, n_active = 40, 8, 25
    weight = np.zeros(n, np.float32)
    weight[np.random.default_rng(1).choice(n, n_active, replace=False)] = 1.0
    # One epoch: 24 samples in full batches (1/8 each) and one alone in the last batch.
    visits = np.asarray(_visits(jnp.asarray(weight), batch_size, 4, jax.random.key(6)))
    np.testing.assert_allclose(np.sort(visits[weight > 0]), [1.0] * 24 + [8.0], rtol=1e-5)
    np.testing.assert_array_equal(visits[weight == 0], 0.0)
    # The next epoch starts with another batch: its first step adds 1/8 to 8 samples.
    first = np.asarray(_visits(jnp.asarray(weight), batch_size, 1, jax.random.key(6))) > 0
    second = (np.asarray(_visits(jnp.asarray(weight), batch_size, 5, jax.random.key(6))) - visits) > 1e-3
    assert first.sum() == second.sum() == batch_size
    assert not np.array_equal(first, second)


def test_fit_batches_are_bitwise_reproducible():
    X = np.random.default_rng(2).normal(size=(300, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
    run = lambda key: jaxfit.fit(models.mlp((8,)), "binary_cross_entropy", X, y, optimizer=optax.adam(0.01),
                                 steps=50, batch_size=32, key=jax.random.key(key))
    a, b, c = run(7), run(7), run(8)
    assert np.asarray(a.history).tobytes() == np.asarray(b.history).tobytes()
    assert not np.array_equal(a.history, c.history)
