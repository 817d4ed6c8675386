"""Central-difference numerical gradients (float64) and the relative error used by every check."""
import numpy as np


def numerical_gradient(f, x, h=1e-6):
    """d f / d x by central differences; f() reads x (modified in place and restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|, tiny): 1e-7 or less is a pass in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))
