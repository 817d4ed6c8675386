"""Optimisers: SGD (optional momentum), Adam, Adagrad, each dense or row-sparse.

The update arithmetic lives in `kernels/update.py` (plain-NumPy references first, then fused Numba
kernels); this module holds the state and decides, per layer and step:

- which rows to visit: all of them for exact training and for `sparse_state=False` (dense state: rows
  without a gradient still move through their momentum, as in the EDBT code's Adam), only the rows
  with a gradient for `sparse_state=True` (lazy per-row state, as in the KDD'17 code);
- how to form the gradient: from its factors inside the update when the batch is small (a batch-1
  step never forms the outer product), otherwise with one BLAS matmul into a preallocated buffer.

Shape legend: see kernels/update.py. The bias is updated by the same kernels as a (D_out, 1) matrix.
"""
import math

import numpy as np

from kernels import update as K

from .layers import BlockGrad, WeightGrad
from .optim_block import update_block

# Largest batch whose weight gradient is formed inside the fused update (N MACs per weight, in Numba)
# rather than by BLAS (measured in bench/bench_update.py: BLAS wins from about this size on).
FACTORED_MAX_BATCH = 2


def lr_factor(schedule, progress):
    """The multiplier of the base learning rate at `progress` = steps taken / steps of the run, in
    [0, 1): constant 1; linear 1 - progress (the last step keeps 1/steps, never 0); cosine
    (1 + cos(pi progress)) / 2."""
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - progress
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")


class Optimizer:
    """Holds per-layer state; `step(params, grads, ledger)` updates params in place.

    The learning rate of a step is `cfg.lr * lr_scale`; the engine sets `lr_scale` from the schedule
    before each step (it is a function of the step count alone, so resuming reproduces it)."""

    n_state = 0
    lr_scale = 1.0

    def __init__(self, params, cfg, sparse_state=False):
        self.cfg = cfg
        self.sparse_state = sparse_state
        dt = params[0].W.dtype
        self.dtype = dt
        self.t = 0
        self.state = [self._init_state(p) for p in params]
        self._all_rows = [np.arange(p.W.shape[0], dtype=np.int64) for p in params]
        self._pos = [np.arange(p.W.shape[0], dtype=np.int64) for p in params]
        self._gbuf = [np.empty_like(p.W) for p in params]
        self._scratch = [np.empty(p.W.shape[1], dt) for p in params]
        self._bscratch = np.empty(1, dt)

    # --- state -----------------------------------------------------------------------------
    @property
    def lr(self):
        return self.cfg.lr * self.lr_scale

    def _init_state(self, p):
        return {}

    def state_arrays(self):
        """Flat {name: array} for checkpoints."""
        out = {"t": np.array(self.t)}
        for i, st in enumerate(self.state):
            for k, a in st.items():
                out[f"{i}.{k}"] = a
        return out

    def load_state_arrays(self, arrays):
        self.t = int(arrays["t"])
        for i, st in enumerate(self.state):
            for k in st:
                st[k][...] = arrays[f"{i}.{k}"]

    # --- step --------------------------------------------------------------------------------
    def step(self, params, grads, ledger=None):
        self.t += 1
        self._before_step()
        for l, (p, g) in enumerate(zip(params, grads)):
            if isinstance(g, BlockGrad):   # TOPK: one block of an input-major layer
                update_block(self, l, p, g, ledger)
            else:
                self._update_layer(l, p, g, ledger)

    def _before_step(self):
        pass

    def fused_lr(self, n_batch):
        """The learning rate when an exact batch-1 backward may update W in the same pass
        (kernels/update.py:sgd_backward_fused), else None. Only plain SGD has such a step."""
        return None

    def _update_weights_in_one_pass(self, l, p, grad, ledger):
        """Update W from its factored gradient in one pass, if this optimiser has such a step for
        this gradient; True when done (the bias is then updated as usual)."""
        return False

    def _update_layer(self, l, p, grad: WeightGrad, ledger):
        d_out, d_in = p.W.shape
        rows = grad.rows
        if rows is None:
            visit = pos_map = self._all_rows[l]
            n_rows = d_out
        else:
            n_rows = rows.shape[0]
            pos_map = self._pos[l]
            pos_map.fill(-1)
            pos_map[rows] = np.arange(n_rows)
            visit = rows if self.sparse_state else self._all_rows[l]
        st = self.state[l]
        n = grad.G.shape[0]
        itemsize = p.W.dtype.itemsize
        # W already updated, during backward (fused batch-1 SGD) or by an optimiser's one-pass
        # step: only the bias is left
        if grad.applied or self._update_weights_in_one_pass(l, p, grad, ledger):
            db = grad.bias().astype(p.W.dtype, copy=False)[:, None]
            self._apply(p.b[:, None], st, "b", visit, pos_map, g=db, l=l, bias=True)
            return
        if n <= FACTORED_MAX_BATCH:
            self._apply(p.W, st, "W", visit, pos_map, factored=(grad.G, grad.A), l=l)
        else:
            g = self._gbuf[l][:n_rows]
            if ledger is not None:
                ledger.switch("backward")
            np.matmul(grad.G.T, grad.A, out=g)  # (R, N) @ (N, D_in): Eq. 1, ∇W = a^{k-1} delta^k
            if ledger is not None:
                ledger.add(l, "backward-weight", n_rows * d_in * n,
                           (n * (n_rows + d_in)) * itemsize, n_rows * d_in * itemsize)
                ledger.switch("update")
            self._apply(p.W, st, "W", visit, pos_map, g=g, l=l)
        db = grad.bias().astype(p.W.dtype, copy=False)[:, None]  # (R, 1), Eq. 1, ∇b = delta^k
        self._apply(p.b[:, None], st, "b", visit, pos_map, g=db, l=l, bias=True)
        if ledger is not None:
            factored = n <= FACTORED_MAX_BATCH
            if factored:
                ledger.add(l, "backward-weight", n_rows * d_in * n, 0, 0)
            c = K.update_cost(visit.shape[0], n_rows, d_in, n, itemsize, self.n_state, factored)
            ledger.add(l, "update", visit.shape[0] * d_in, c.bytes_read, c.bytes_written)


class SGD(Optimizer):
    # Plain SGD on an exact mini-batch applies W -= lr G^T A as one in-place BLAS GEMM (beta = 1)
    # instead of forming the gradient in a buffer and applying it in a second pass: measured 1.24x
    # per batch-20 epoch (bench/notes_epoch.md §3.1). Tests switch it off to compare the two.
    gemm_update = True
    _gemm = None   # scipy's ?gemm for the parameters' dtype, looked up on first use

    def fused_lr(self, n_batch):
        return self.lr if n_batch == 1 and self.cfg.momentum == 0 else None

    def _update_weights_in_one_pass(self, l, p, grad, ledger):
        """Plain SGD on an exact mini-batch: W -= lr G^T A in place, Eq. 1's weight gradient and the
        step in one BLAS call. In W's transposed (Fortran) view: W^T <- 1 * W^T + (-lr) A^T G."""
        if not (self.gemm_update and self.cfg.momentum == 0 and grad.rows is None
                and grad.G.shape[0] > FACTORED_MAX_BATCH):
            return False
        W = p.W
        if self._gemm is None:
            from scipy.linalg.blas import get_blas_funcs
            self._gemm = get_blas_funcs("gemm", (W,))
        G = np.ascontiguousarray(grad.G, dtype=W.dtype)   # (N, D_out)
        A = np.ascontiguousarray(grad.A, dtype=W.dtype)   # (N, D_in)
        n, (d_out, d_in), itemsize = G.shape[0], W.shape, W.dtype.itemsize
        if ledger is not None:
            ledger.switch("backward")
        out = self._gemm(alpha=-self.lr, a=A.T, b=G.T, beta=1.0, c=W.T, trans_b=True,
                         overwrite_c=True)
        if not np.shares_memory(out, W):   # BLAS had to copy (not expected for a C-ordered W)
            W[...] = out.T
        if ledger is not None:
            ledger.add(l, "backward-weight", d_out * d_in * n, n * (d_out + d_in) * itemsize, 0)
            ledger.add(l, "update", d_out * d_in, d_out * d_in * itemsize, d_out * d_in * itemsize)
            ledger.switch("update")
        return True

    def _init_state(self, p):
        self.n_state = 1 if self.cfg.momentum > 0 else 0
        if self.cfg.momentum > 0:
            return {"vel_W": np.zeros_like(p.W), "vel_b": np.zeros_like(p.b)}
        return {}

    def _apply(self, W, st, which, visit, pos, factored=None, g=None, l=0, bias=False):
        dt = W.dtype.type
        vel = st.get(f"vel_{which}")
        if vel is None:
            vel = W  # never touched when mu == 0
        elif bias:
            vel = vel[:, None]
        lr, mu = dt(self.lr), dt(self.cfg.momentum)
        scratch = self._bscratch if bias else self._scratch[l]
        if factored is not None:
            K.sgd_factored(W, vel, factored[0], factored[1], visit, pos, lr, mu, scratch)
        else:
            K.sgd_materialized(W, vel, g, visit, pos, lr, mu, scratch)


class Adam(Optimizer):
    n_state = 2

    def _init_state(self, p):
        d_out = p.W.shape[0]
        st = {"m_W": np.zeros_like(p.W), "v_W": np.zeros_like(p.W),
              "m_b": np.zeros_like(p.b), "v_b": np.zeros_like(p.b)}
        if self.sparse_state:
            st["t_rows"] = np.zeros(d_out, np.int64)  # lazy Adam: each row's own step count
        st["_step"] = np.empty(d_out, p.W.dtype)
        st["_corr"] = np.empty(d_out, p.W.dtype)
        return st

    def state_arrays(self):
        return {k: v for k, v in super().state_arrays().items() if not k.split(".")[-1].startswith("_")}

    def load_state_arrays(self, arrays):
        self.t = int(arrays["t"])
        for i, st in enumerate(self.state):
            for k in st:
                if not k.startswith("_"):
                    st[k][...] = arrays[f"{i}.{k}"]

    def _update_layer(self, l, p, grad, ledger):
        cfg, st = self.cfg, self.state[l]
        if self.sparse_state:
            rows = self._all_rows[l] if grad.rows is None else grad.rows
            st["t_rows"][rows] += 1
            t = st["t_rows"][rows].astype(np.float64)
            st["_step"][rows] = self.lr / (1 - cfg.beta1 ** t)
            st["_corr"][rows] = 1 / np.sqrt(1 - cfg.beta2 ** t)
        else:
            st["_step"].fill(self.lr / (1 - cfg.beta1 ** self.t))
            st["_corr"].fill(1 / np.sqrt(1 - cfg.beta2 ** self.t))
        super()._update_layer(l, p, grad, ledger)

    def _apply(self, W, st, which, visit, pos, factored=None, g=None, l=0, bias=False):
        dt = W.dtype.type
        m, v = st[f"m_{which}"], st[f"v_{which}"]
        if bias:
            m, v = m[:, None], v[:, None]
        args = (visit, pos, st["_step"], st["_corr"], dt(self.cfg.beta1), dt(self.cfg.beta2),
                dt(self.cfg.eps), self._bscratch if bias else self._scratch[l])
        if factored is not None:
            K.adam_factored(W, m, v, factored[0], factored[1], *args)
        else:
            K.adam_materialized(W, m, v, g, *args)


class Adagrad(Optimizer):
    n_state = 1

    def _init_state(self, p):
        return {"h_W": np.zeros_like(p.W), "h_b": np.zeros_like(p.b)}

    def _apply(self, W, st, which, visit, pos, factored=None, g=None, l=0, bias=False):
        dt = W.dtype.type
        h = st[f"h_{which}"]
        if bias:
            h = h[:, None]
        lr, eps = dt(self.lr), dt(self.cfg.eps)
        if factored is not None:
            K.adagrad_factored(W, h, factored[0], factored[1], visit, pos, lr, eps,
                               self._scratch[l])
        else:
            K.adagrad_materialized(W, h, g, visit, pos, lr, eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad}


def make_optimizer(cfg, params, sparse_state=False):
    return OPTIMIZERS[cfg.optimizer](params, cfg, sparse_state=sparse_state)
