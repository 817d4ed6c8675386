import os

import numpy as np
import pytest

# Tests never reach the internet: the official-site download step is skipped.
os.environ.setdefault("NPMLP_OFFLINE", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def make_blobs(seed=0, n_train=600, n_val=200, n_test=200, dim=20, classes=4, noise=0.6,
               dtype=np.float64):
    """A tiny seeded dataset (class prototypes + Gaussian noise) shaped like what npmlp.data.load
    returns, so engine tests do not depend on the data package."""
    from types import SimpleNamespace as NS
    g = np.random.default_rng(seed)
    protos = g.standard_normal((classes, dim))

    def part(n):
        y = g.integers(0, classes, n)
        X = (protos[y] + noise * g.standard_normal((n, dim))).astype(dtype)
        return NS(X=X, y=y.astype(np.int64))
    return NS(name="blobs", train=part(n_train), val=part(n_val), test=part(n_test),
              num_classes=classes, input_shape=(dim,), source="generated in tests")


@pytest.fixture
def blobs():
    return make_blobs()
