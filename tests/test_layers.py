"""Gradient checks for every layer pair (float64) and the fused log-softmax + NLL."""
import numpy as np
import pytest

from npmlp.layers import activation_pair, dense_backward, dense_forward
from npmlp.losses import log_softmax, log_softmax_nll
from tests.gradcheck import numerical_gradient, rel_error


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_gradients(name, rng):
    fwd, bwd = activation_pair(name, slope=0.1)
    z = rng.standard_normal((4, 7))
    z[np.abs(z) < 1e-3] = 0.5  # keep finite differences away from the ReLU kink
    da = rng.standard_normal(z.shape)
    _, cache = fwd(z.copy())
    analytic = bwd(da, cache)
    numeric = numerical_gradient(lambda: float((fwd(z.copy())[0] * da).sum()), z)
    assert rel_error(analytic, numeric) < 1e-7


def test_sigmoid_is_stable_on_both_tails():
    fwd, _ = activation_pair("sigmoid")
    a, _ = fwd(np.array([[-1000.0, 0.0, 1000.0]]))
    assert np.all(np.isfinite(a)) and np.allclose(a, [[0.0, 0.5, 1.0]])


def test_dense_gradients(rng):
    x, W, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    dz = rng.standard_normal((3, 4))
    z, cache = dense_forward(x, W, b)
    assert np.allclose(z, x @ W.T + b)
    dx, grad = dense_backward(dz, cache, W)
    dW, db = grad.dense(4)
    f = lambda: float((dense_forward(x, W, b)[0] * dz).sum())  # noqa: E731
    assert rel_error(dx, numerical_gradient(f, x)) < 1e-7
    assert rel_error(dW, numerical_gradient(f, W)) < 1e-7
    assert rel_error(db, numerical_gradient(f, b)) < 1e-7
    assert dense_backward(dz, cache, W, need_dx=False)[0] is None


def test_log_softmax_nll_gradient_and_value(rng):
    logits, y = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    loss, d = log_softmax_nll(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(5), y]).mean(), rel=1e-12)
    assert rel_error(d, numerical_gradient(lambda: log_softmax_nll(logits, y)[0], logits)) < 1e-7


def test_log_softmax_is_stable_for_huge_logits():
    out = log_softmax(np.array([[1e4, 0.0, -1e4]]))
    assert np.all(np.isfinite(out)) and out[0, 0] == pytest.approx(0.0)
