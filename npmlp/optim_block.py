"""The optimiser's update of one block of an input-major layer (TOPK's BlockGrad).

A TOPK step trains only the block rows J (non-zero inputs) x columns S (kept units) of each layer's
input-major weights W.T (D_in, D_out) (params.py, "Layout"), and the bias entries of S. This is the
optimiser's code (only the optimiser writes parameters and state): `Optimizer.step` sends a
`BlockGrad` here instead of to its row update. The arithmetic is kernels/topk_update.py.

Lazy state over the block: every element outside the block, of W and of the state, is untouched (an
element's moments move only in steps where its input is non-zero and its unit is kept). Adam's bias
correction counts steps per *unit*: t_u = the steps in which unit u was kept (the optimiser's
per-row counter `t_rows` of the row-sparse path: a unit is a row of the logical (D_out, D_in) W),
incremented inside the kernel (EDBT §8.4's Adam, lazily).
"""
import numpy as np

from kernels import topk_update as KU
from kernels.cost import Cost


def update_block(opt, l, p, grad, lr):
    """Apply `grad` (layers.BlockGrad) to layer l's block with optimiser `opt` (optim.Optimizer) at
    learning rate `lr`; the work goes to the optimiser's ledger."""
    from .optim import SGD, Adam, Adagrad
    st, cfg = opt.state[l], opt.cfg
    dt = p.W.dtype.type
    WT, b = p.W.T, p.b                   # (D_in, D_out) input-major view (C-contiguous), (D_out,)
    A = np.ascontiguousarray(grad.A, dtype=p.W.dtype)
    G = np.ascontiguousarray(grad.G, dtype=p.W.dtype)
    rows, cols = grad.rows, grad.cols
    n = G.shape[0]
    if isinstance(opt, Adam):            # t_rows: present, TOPK asks for sparse optimiser state
        KU.adam_block(WT, st["m_W"].T, st["v_W"].T, b, st["m_b"], st["v_b"], A, G, rows, cols,
                      st["t_rows"], float(lr), float(cfg.beta1), float(cfg.beta2), float(cfg.eps))
    elif isinstance(opt, SGD):
        lr, mu = dt(lr), dt(cfg.momentum)
        vel_W, vel_b = (st["vel_W"].T, st["vel_b"]) if mu > 0 else (WT, b)  # unread at mu = 0
        KU.sgd_block(WT, vel_W, b, vel_b, A, G, rows, cols, lr, mu)
    elif isinstance(opt, Adagrad):
        KU.adagrad_block(WT, st["h_W"].T, b, st["h_b"], A, G, rows, cols, dt(lr), dt(cfg.eps))
    else:
        raise TypeError(f"{type(opt).__name__} has no block update")
    R, C = rows.shape[0], cols.shape[0]
    c = KU.block_update_cost(R + 1, C, n, p.W.dtype.itemsize, opt.n_state)
    opt.ledger.add_costs(l, {"backward-weight": Cost(R * C * n, 0, 0),   # formed inside the update
                             "update": Cost((R + 1) * C, c.bytes_read, c.bytes_written)})
