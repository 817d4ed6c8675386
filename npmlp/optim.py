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
from kernels.cost import Cost

from .layers import BlockGrad, WeightGrad
from .ledger import Ledger
from .optim_block import update_block

# Largest batch whose weight gradient is formed inside the fused update (N MACs per weight, in Numba)
# rather than by BLAS. `python bench/bench_update.py` (Adam, 1000x1000 float32, 1 thread, load ~12):
# BLAS + update / factored = 5.65 at N = 1, 1.62 at N = 2, 0.87 at N = 3, 0.69 at N = 4.
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
    """Holds per-layer state; `step(params, grads, lr)` updates params in place. The optimiser is the
    only writer of parameters and optimiser state; `lr` is the step's learning rate (the engine
    computes it from the schedule, a function of the step count alone, so resuming reproduces it).

    Fast paths, each one pass over W, on while `fused` is True (tests switch it off per instance to
    compare with the reference order: gradient, then update):
      - `backward_and_update`: exact batch-1 plain SGD forms the input gradient and updates W in the
        same pass (kernels/update.py:sgd_backward_fused); the engine chooses it, in one branch;
      - `_update_weights_in_one_pass`: an optimiser's own one-pass step from the factored gradient
        (SGD: one in-place BLAS GEMM)."""

    n_state = 0

    def __init__(self, params, cfg, sparse_state=False, ledger=None):
        self.cfg = cfg
        self.sparse_state = sparse_state
        if ledger is None:   # a ledger nobody reads
            ledger = Ledger([params[0].W.shape[1], *(p.W.shape[0] for p in params)])
        self.ledger = ledger
        self.fused = True
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
    def _init_state(self, p):
        return {}

    def state_arrays(self):
        """Flat {name: array} for checkpoints; names starting with '_' are scratch, not state."""
        out = {"t": np.array(self.t)}
        for i, st in enumerate(self.state):
            for k, a in st.items():
                if not k.startswith("_"):
                    out[f"{i}.{k}"] = a
        return out

    def load_state_arrays(self, arrays):
        self.t = int(arrays["t"])
        for i, st in enumerate(self.state):
            for k in st:
                if not k.startswith("_"):
                    st[k][...] = arrays[f"{i}.{k}"]

    # --- step --------------------------------------------------------------------------------
    def step(self, params, grads, lr):
        self.t += 1
        for l, (p, g) in enumerate(zip(params, grads)):
            if isinstance(g, BlockGrad):   # TOPK: one block of an input-major layer
                update_block(self, l, p, g, lr)
            else:
                self._update_layer(l, p, g, lr)

    def fuses_backward(self, batch_size):
        """Whether `backward_and_update` applies to an exact step of this batch size."""
        return False

    def backward_and_update(self, l, p, dz, x, lr):
        """Eq. 1's input gradient delta W (with the old W) and this optimiser's update of W from the
        exact gradient a^{k-1} delta^k, in one pass over W. Returns (dx, WeightGrad marked applied);
        `step` then updates the bias alone."""
        raise NotImplementedError

    def _update_weights_in_one_pass(self, l, p, grad, lr):
        """Update W from its factored gradient in one pass, if this optimiser has such a step for
        this gradient; True when done (the bias is then updated as usual)."""
        return False

    def _update_layer(self, l, p, grad: WeightGrad, lr):
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
        db = grad.bias().astype(p.W.dtype, copy=False)[:, None]  # (R, 1), Eq. 1, ∇b = delta^k
        # W already updated, by backward_and_update or by an optimiser's one-pass step: only the
        # bias is left
        if grad.applied or self._update_weights_in_one_pass(l, p, grad, lr):
            self._apply(p.b[:, None], st, "b", visit, pos_map, lr, g=db, l=l, bias=True)
            return
        factored = n <= FACTORED_MAX_BATCH and grad.pairs is None
        if grad.pairs is not None:   # batch-N active sets: the rows from the kept pairs, by a
            g = self._gbuf[l][:n_rows]   # sparse kernel (the strategy recorded its cost)
            with self.ledger.phase("backward"):
                grad.pairs.fill(g)
            self._apply(p.W, st, "W", visit, pos_map, lr, g=g, l=l)
            weight_grad = Cost(0, 0, 0)
        elif factored:   # the gradient rows G^T A are formed inside the update, row by row
            self._apply(p.W, st, "W", visit, pos_map, lr, factored=(grad.G, grad.A), l=l)
            weight_grad = Cost(n_rows * d_in * n, 0, 0)
        else:
            g = self._gbuf[l][:n_rows]
            with self.ledger.phase("backward"):
                np.matmul(grad.G.T, grad.A, out=g)  # (R, N) @ (N, D_in): Eq. 1, ∇W = a^{k-1} delta^k
            weight_grad = Cost(n_rows * d_in * n, (n * (n_rows + d_in)) * itemsize,
                               n_rows * d_in * itemsize)
            self._apply(p.W, st, "W", visit, pos_map, lr, g=g, l=l)
        self._apply(p.b[:, None], st, "b", visit, pos_map, lr, g=db, l=l, bias=True)
        c = K.update_cost(visit.shape[0], n_rows, d_in, n, itemsize, self.n_state, factored)
        self.ledger.add_costs(l, {"backward-weight": weight_grad,
                                  "update": Cost(visit.shape[0] * d_in, c.bytes_read,
                                                 c.bytes_written)})


class SGD(Optimizer):
    _gemm = None   # scipy's ?gemm for the parameters' dtype, looked up on first use

    def fuses_backward(self, batch_size):
        return self.fused and batch_size == 1 and self.cfg.momentum == 0

    def backward_and_update(self, l, p, dz, x, lr):
        """Exact batch 1: dx = delta W (Eq. 1, old W) and W -= lr a^{k-1} delta^k in one pass."""
        W = p.W
        dx = np.empty((1, W.shape[1]), dz.dtype)
        K.sgd_backward_fused(W, dz[0], x[0], W.dtype.type(lr), dx[0])
        # One multiply-add per weight in each phase; the pass's reads charged to the input
        # gradient, its writes to the update (the time, too, is backward time)
        macs, c = W.size, K.sgd_backward_fused_cost(*W.shape, W.itemsize)
        self.ledger.add_costs(l, {"backward-input": Cost(macs, c.bytes_read, 0),
                                  "backward-weight": Cost(macs, 0, 0),
                                  "update": Cost(macs, 0, c.bytes_written)})
        return dx, WeightGrad(dz, x, applied=True)

    def _update_weights_in_one_pass(self, l, p, grad, lr):
        """Plain SGD on an exact mini-batch: W -= lr G^T A in place, Eq. 1's weight gradient and the
        step in one BLAS call (measured 1.24x per batch-20 epoch against forming the gradient in a
        buffer first: bench/notes_epoch.md §3.1). In W's transposed (Fortran) view:
        W^T <- 1 * W^T + (-lr) A^T G."""
        if not (self.fused and self.cfg.momentum == 0 and grad.rows is None
                and grad.G.shape[0] > FACTORED_MAX_BATCH):
            return False
        W = p.W
        if self._gemm is None:
            from scipy.linalg.blas import get_blas_funcs
            self._gemm = get_blas_funcs("gemm", (W,))
        G = np.ascontiguousarray(grad.G, dtype=W.dtype)   # (N, D_out)
        A = np.ascontiguousarray(grad.A, dtype=W.dtype)   # (N, D_in)
        n, (d_out, d_in), itemsize = G.shape[0], W.shape, W.dtype.itemsize
        with self.ledger.phase("backward"):
            out = self._gemm(alpha=-lr, a=A.T, b=G.T, beta=1.0, c=W.T, trans_b=True,
                             overwrite_c=True)
            if not np.shares_memory(out, W):   # BLAS had to copy (not expected for a C-ordered W)
                W[...] = out.T
        self.ledger.add_costs(l, {
            "backward-weight": Cost(d_out * d_in * n, n * (d_out + d_in) * itemsize, 0),
            "update": Cost(d_out * d_in, d_out * d_in * itemsize, d_out * d_in * itemsize)})
        return True

    def _init_state(self, p):
        self.n_state = 1 if self.cfg.momentum > 0 else 0
        if self.cfg.momentum > 0:
            return {"vel_W": np.zeros_like(p.W), "vel_b": np.zeros_like(p.b)}
        return {}

    def _apply(self, W, st, which, visit, pos, lr, factored=None, g=None, l=0, bias=False):
        dt = W.dtype.type
        vel = st.get(f"vel_{which}")
        if vel is None:
            vel = W  # never touched when mu == 0
        elif bias:
            vel = vel[:, None]
        lr, mu = dt(lr), dt(self.cfg.momentum)
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

    def _update_layer(self, l, p, grad, lr):
        cfg, st = self.cfg, self.state[l]
        if self.sparse_state:
            rows = self._all_rows[l] if grad.rows is None else grad.rows
            st["t_rows"][rows] += 1
            t = st["t_rows"][rows].astype(np.float64)
            st["_step"][rows] = lr / (1 - cfg.beta1 ** t)
            st["_corr"][rows] = 1 / np.sqrt(1 - cfg.beta2 ** t)
        else:
            st["_step"].fill(lr / (1 - cfg.beta1 ** self.t))
            st["_corr"].fill(1 / np.sqrt(1 - cfg.beta2 ** self.t))
        super()._update_layer(l, p, grad, lr)

    def _update_weights_in_one_pass(self, l, p, grad, lr):
        """A batch-N active-set gradient (grad.pairs): each visited row's gradient is formed inside
        the Adam pass (kernels/active_batch_adam.py), never written out as a (U, D_in) array."""
        if not (self.fused and grad.pairs is not None):
            return False
        st, dt, d_in = self.state[l], p.W.dtype.type, p.W.shape[1]
        visit = grad.rows if self.sparse_state else self._all_rows[l]
        b1, b2 = self.cfg.beta1, self.cfg.beta2   # 1 - beta in float64, rounded once (as _apply)
        grad.pairs.adam(p.W, st["m_W"], st["v_W"], visit, self._pos[l], st["_step"], st["_corr"],
                        dt(b1), dt(b2), dt(1 - b1), dt(1 - b2), dt(self.cfg.eps), self._scratch[l])
        c = K.update_cost(visit.shape[0], grad.rows.shape[0], d_in, grad.G.shape[0],
                          p.W.itemsize, self.n_state, True)
        self.ledger.add_cost(l, "update", Cost(visit.shape[0] * d_in, c.bytes_read, c.bytes_written))
        return True

    def _apply(self, W, st, which, visit, pos, lr, factored=None, g=None, l=0, bias=False):
        dt = W.dtype.type
        m, v = st[f"m_{which}"], st[f"v_{which}"]
        if bias:
            m, v = m[:, None], v[:, None]
        b1, b2 = self.cfg.beta1, self.cfg.beta2
        # 1 - beta in float64, rounded once (not 1 - float32(beta): off by 1.3e-5 for 0.999)
        args = (visit, pos, st["_step"], st["_corr"], dt(b1), dt(b2), dt(1 - b1), dt(1 - b2),
                dt(self.cfg.eps), self._bscratch if bias else self._scratch[l])
        if factored is not None:
            K.adam_factored(W, m, v, factored[0], factored[1], *args)
        else:
            K.adam_materialized(W, m, v, g, *args)


class Adagrad(Optimizer):
    n_state = 1

    def _init_state(self, p):
        return {"h_W": np.zeros_like(p.W), "h_b": np.zeros_like(p.b)}

    def _apply(self, W, st, which, visit, pos, lr, factored=None, g=None, l=0, bias=False):
        dt = W.dtype.type
        h = st[f"h_{which}"]
        if bias:
            h = h[:, None]
        lr, eps = dt(lr), dt(self.cfg.eps)
        if factored is not None:
            K.adagrad_factored(W, h, factored[0], factored[1], visit, pos, lr, eps,
                               self._scratch[l])
        else:
            K.adagrad_materialized(W, h, g, visit, pos, lr, eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad}


def make_optimizer(cfg, params, sparse_state=False, ledger=None):
    return OPTIMIZERS[cfg.optimizer](params, cfg, sparse_state=sparse_state, ledger=ledger)
