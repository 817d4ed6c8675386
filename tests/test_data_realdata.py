"""Real MNIST and Fashion-MNIST, when fetched: the published statistics (notes/datasets.md §1).

These read the real cache (NPMLP_CACHE or ~/.cache/npmlp) and never fetch; without the data they skip
with the command that fetches it.
"""

import numpy as np
import pytest

from npmlp.data import SPECS, load
from npmlp.data.sources import find_local

pytestmark = pytest.mark.realdata


def raw_or_skip(name):
    found = find_local(SPECS[name])
    if found is None:
        pytest.skip(f"{name} is not fetched; run: python -m npmlp.data fetch {name}")
    return found[0]


def test_mnist_matches_the_official_statistics():
    raw = raw_or_skip("mnist")
    assert raw.X_train.shape == (60_000, 28, 28) and raw.X_test.shape == (10_000, 28, 28)
    assert abs(raw.X_train.mean(dtype=np.float64) - 33.3184) < 5e-5
    assert abs(raw.X_test.mean(dtype=np.float64) - 33.7912) < 5e-5
    np.testing.assert_array_equal(np.bincount(raw.y_train),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    np.testing.assert_array_equal(raw.y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(raw.y_test[:5], [7, 2, 1, 0, 4])

    s = load("mnist", progress=False)
    assert [len(p.y) for p in (s.train, s.val, s.test)] == [55_000, 5_000, 10_000]
    np.testing.assert_array_equal(s.val.y[:5], [5, 0, 4, 1, 9])            # validation = first 5,000
    assert s.train.X.min() == 0.0 and s.train.X.max() == 1.0


def test_fashion_mnist_matches_the_official_statistics():
    raw = raw_or_skip("fashion-mnist")
    assert abs(raw.X_train.mean(dtype=np.float64) - 72.9404) < 5e-5
    assert abs(raw.X_test.mean(dtype=np.float64) - 73.1466) < 5e-5
    np.testing.assert_array_equal(np.bincount(raw.y_train), [6000] * 10)
    np.testing.assert_array_equal(raw.y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
