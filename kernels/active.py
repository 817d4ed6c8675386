"""Active-set products: one import for the three modules that hold them.

A layer z = x W^T + b with W (D_out, D_in) evaluated on K active units (rows of W) only:
    kernels/active_forward.py      z at the active units; batch 1, batch N shared or per-sample
                                   sets, a dense-scatter form, and a sparse-input form (K x J)
    kernels/active_backward.py     input gradient dx = dz @ W[idx], and its sparse-input form
    kernels/active_weight_grad.py  weight gradient as a row-sparse scatter-add into dW, its
                                   compact (U, D_in) form, and `active_union` (distinct units)
    kernels/active_batch.py        batch N with ragged per-sample sets (CSR): forward, input
                                   gradient, and the row-grouped compact weight gradient
Each module opens with the plain-NumPy reference of every kernel, has a `*_cost` per kernel and a
registered warm-up; importing this module registers all four warm-ups. Kernels are called
through their module, e.g. `active_forward.active_forward_1(x, W, b, idx, out)`.
"""
from . import active_backward, active_batch, active_forward, active_weight_grad

MODULES = (active_forward, active_backward, active_weight_grad, active_batch)

# kernel -> its plain-NumPy reference, over the four modules (the tests walk this)
REFERENCES = {**active_forward.REFERENCES, **active_backward.REFERENCES, **active_weight_grad.REFERENCES,
              **active_batch.REFERENCES}
