"""Central-difference numerical gradients (float64) and the relative error used by every check."""
import numpy as np

from npmlp import reference


# Central differences, (f(x + h e_i) - f(x - h e_i)) / 2h per entry: the one in npmlp/reference.py.
numerical_gradient = reference.numerical_gradient


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|, tiny): 1e-7 or less is a pass in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))
