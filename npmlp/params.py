"""Parameters of the MLP: one (W, b) pair per layer, and their initialisation.

Shape legend: D_in = fan-in, D_out = fan-out (units of the layer).
W (D_out, D_in): row j holds the incoming weights of unit j, contiguous in memory, so a sampling method
that keeps a subset of units reads a subset of rows. The paper writes z = a W with W (D_in, D_out);
our W is the paper's W transposed.

Layout: W always has the logical shape (D_out, D_in) (every reader indexes W[unit, input]); a strategy
chooses how it lies in memory (`weight_layout`, applied by `apply_layout`). "output-major" (the
default, C order): a unit's incoming weights are contiguous. "input-major" (Fortran order, TOPK): an
input's outgoing weights are contiguous, i.e. W.T is the paper's W^k (D_in, D_out) as a C-contiguous
array. The optimiser's state is created with zeros_like(W) and so follows W's layout; checkpoints
store W by value in its logical shape, so they do not depend on the layout.
"""
from typing import NamedTuple

import numpy as np


class Layer(NamedTuple):
    W: np.ndarray  # (D_out, D_in)
    b: np.ndarray  # (D_out,)


def layer_sizes(n_inputs, hidden, n_classes):
    """[D_0, D_1, ..., D_L]: input width, hidden widths, number of classes."""
    return [int(n_inputs), *map(int, hidden), int(n_classes)]


def init_params(sizes, rng, init="he", std=1.0, dtype=np.float32):
    """Weights drawn from `rng` (one generator for every random choice); biases zero.

    he:     N(0, 2 / D_in)               (Kaiming, suited to ReLU; the paper's README names it)
    glorot: U(+-sqrt(6 / (D_in + D_out)))
    normal: N(0, std^2)                  (std = 1 is what the EDBT STANDARD code really does)
    pytorch: W and b ~ U(+-1 / sqrt(D_in)) (torch.nn.Linear's default, which the EDBT dropout and
             ALSH codes end up using); the only init that also draws biases
    """
    params = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        if init == "he":
            W = rng.standard_normal((d_out, d_in)) * np.sqrt(2.0 / d_in)
        elif init == "glorot":
            limit = np.sqrt(6.0 / (d_in + d_out))
            W = rng.uniform(-limit, limit, size=(d_out, d_in))
        elif init == "normal":
            W = rng.standard_normal((d_out, d_in)) * std
        elif init == "pytorch":
            bound = 1.0 / np.sqrt(d_in)
            W = rng.uniform(-bound, bound, size=(d_out, d_in))
        else:
            raise ValueError(f"unknown init {init!r}")
        b = rng.uniform(-bound, bound, size=d_out) if init == "pytorch" else np.zeros(d_out)
        params.append(Layer(np.ascontiguousarray(W, dtype=dtype), b.astype(dtype)))
    return params


LAYOUTS = ("output-major", "input-major")


def apply_layout(params, layout):
    """Store every layer's W in `layout` (see the module docstring), replacing the list's entries in
    place; values and logical shapes are unchanged. Call it before the optimiser is built."""
    to = {"output-major": np.ascontiguousarray, "input-major": np.asfortranarray}[layout]
    for l, p in enumerate(params):
        params[l] = Layer(to(p.W), p.b)
    return params


def n_params(params):
    return sum(p.W.size + p.b.size for p in params)


def pack(arrays):
    """Concatenate arrays into one flat vector (whole-network gradient checks)."""
    return np.concatenate([np.ravel(a) for a in arrays])


def unpack(flat, like):
    """Split `flat` into arrays shaped like `like` (inverse of `pack`)."""
    out, start = [], 0
    for a in like:
        out.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return out
