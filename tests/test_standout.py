"""The compiled standout calibration (kernels/standout.py) against its NumPy reference.

Checked to rounding (the reference's exp is SciPy's, the kernel's Numba's: both call libm here, and
the kernel is compiled without fastmath, so on this machine they agree bit for bit; the fast path's
own equality tests, which call the kernel on both paths, are bit for bit)."""
import numpy as np
import pytest

from kernels import standout as KSO


def _kernel(u, c, target, beta0):
    n, d = u.shape
    beta, keep = np.empty(n), np.empty((n, d))
    KSO.standout_keep(u, c, target, beta0, beta, keep, np.empty(n), np.empty(d))
    return beta, keep


@pytest.mark.parametrize("d", [5, 17, 129, 300, 784, 1000])
def test_pairwise_sum_follows_numpys_order(d):
    rng = np.random.default_rng(d)
    for _ in range(30):
        a = rng.standard_normal((3, d)) * rng.exponential(5)
        sums = a.sum(axis=1)
        for n in range(3):
            assert KSO.pairwise_sum(a[n]) == sums[n]
        x = (rng.random(d) * (rng.random(d) < 0.1)).astype(np.float32)   # as c = sum(a) is formed
        assert KSO.pairwise_sum(x.astype(np.float64)) == x[None].sum(axis=1, dtype=np.float64)[0]


@pytest.mark.parametrize("target", [0.05, 0.3, 0.0])
@pytest.mark.parametrize("per_weight", [False, True])
def test_kernel_equals_numpy_reference(target, per_weight):
    rng = np.random.default_rng(int(target * 100) + per_weight)
    for trial in range(40):
        n, d = int(rng.integers(1, 25)), (1000, 784, 17, 129)[trial % 4]
        u = rng.standard_normal((n, d)) * rng.exponential(3)
        c = rng.random(n) * 40 if per_weight else np.ones(n)
        beta0 = float(rng.standard_normal() * 3)
        beta, keep = _kernel(u, c, target, beta0)
        rbeta, rkeep = KSO.standout_keep_reference(u, c, target, beta0)
        np.testing.assert_allclose(beta, rbeta, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(keep, rkeep, rtol=1e-12, atol=1e-15)


def test_rows_iterate_together_and_nan_propagates():
    """A row that has converged keeps stepping while another has not (the reference's joint
    stopping rule); a NaN input gives NaN, as np.clip and np.maximum propagate it."""
    u = np.vstack([np.full(10, -2.9444389791664403), np.linspace(-9, 3, 10)])   # row 0: mean 0.05
    beta, _ = _kernel(u, np.ones(2), 0.05, 0.0)
    rbeta = KSO.calibrate_beta_reference(u, np.ones(2), 0.05, 0.0)
    np.testing.assert_allclose(beta, rbeta, rtol=1e-12)
    u[1, 3] = np.nan
    beta, keep = _kernel(u, np.ones(2), 0.05, 0.0)
    assert np.isnan(beta[1]) and np.isnan(keep[1]).all()
    assert np.isnan(KSO.calibrate_beta_reference(u, np.ones(2), 0.05, 0.0)[1])
