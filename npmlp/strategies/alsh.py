"""ALSH-APPROX (Spring & Shrivastava, KDD 2017; EDBT §5.2, Eq. 2-4).

Each hidden layer keeps L hash tables of K-bit signatures of its weight rows after the transform P,
and for every sample queries them with Q(a^{k-1}) of the incoming activation. The units whose rows
collide with the query form the active set S; only they are computed (strategies/active_set.py), on
the premise that they are the units with the largest inner products <W_{:,j}, a^{k-1}> (Eq. 4, MIPS).

    P(w) = [w; |w|^2; |w|^4; ...; |w|^(2^m)],  Q(a) = [a; 1/2; ...; 1/2]        (Eq. 2, l2_alsh)
    rows rescaled together so the largest norm is U (the EDBT code: U = 0.83)
    argmax_j <W_{:,j}, a> ~ argmin_j |Q(a) - P(W_{:,j})|                        (Eq. 3-4)
    S = selection(buckets of h_t(Q(a)), t = 1..L)          (EDBT code: union with early stop at
                                                            tau = 5% of the units, per-bucket cap,
                                                            random fill to tau)
What is approximated: every unit outside S is taken to output exactly 0 (the estimate of a small
inner product), in the forward pass and in backpropagation. Tables are rebuilt on a schedule
(alsh_schedule.py) from the current weights; between rebuilds they describe older weights.
Exact limit: with alsh_active = 1 and the edbt policy, S is every unit, and ALSH-APPROX is STANDARD.

Evaluation is exact and dense (EDBT code), or uses the hashed active sets (alsh_eval = 'sparse',
KDD'17 code). The all-zero query (ReLU can produce it) has no direction: the edbt policy then fills S
with tau random units, the other policies select nothing. L2-ALSH's P/Q pair was derived for L2 hashing;
the EDBT code applies sign hashing to it, which does not preserve the MIPS order in general (notes §4a):
sign_alsh and simple_lsh are the valid pairs for sign hashing and are options.

Shape legend: W (D_out, D_in), the paper's W^k transposed; codes (L, D_out); qcodes (L,).
"""
import json

import numpy as np

from kernels import active_batch_lsh as KL
from kernels import lsh, lsh_select
from kernels.cost import Cost

from ..errors import UserError
from ..layers import dense_forward
from ..seeds import child_generator
from .active_batch import ragged
from .active_set import ActiveSetStrategy, Selection
from .alsh_schedule import RebuildSchedule


class _LayerIndex:
    """Hash functions, tables and scratch of one hidden layer."""

    def __init__(self, cfg, W, rng):
        d_out, d_in = W.shape
        self.t = lsh.make_transform(cfg.alsh_transform, m=cfg.alsh_m, U=cfg.alsh_U,
                                    shrink_only=cfg.alsh_transform == "l2_alsh")
        self.proj = lsh.draw_projection(rng, cfg.alsh_hash, d_in + self.t.m, cfg.alsh_bits,
                                        cfg.alsh_tables, dtype=W.dtype)
        self.n_bits = lsh.n_bits(self.proj)
        self.codes = np.empty((cfg.alsh_tables, d_out), np.int32)
        self.tables = lsh.make_tables(cfg.alsh_tables, self.n_bits, d_out)
        self.qcodes = np.empty(cfg.alsh_tables, np.int32)
        self.scratch = lsh.make_select_scratch(d_out, cfg.alsh_tables)
        self.out = np.empty(d_out, np.int32)
        self.signature = None  # drift schedule: last 1-bit-per-table signature
        self.buffers = lsh.make_rebuild_buffers(W, self.t, self.proj)
        itemsize = W.dtype.itemsize   # what a rebuild records in the ledger: fixed by the shapes
        self.rebuild_cost = (lsh.hash_rows_cost(self.proj, d_out, d_in, self.t.m, itemsize)
                             + lsh.build_tables_cost(self.proj.L, d_out, self.n_bits))

    def rebuild(self, W):
        """Rehash every row (Eq. 2, then the hash functions) and rebuild the tables: one compiled
        call around the BLAS product (kernels/lsh_rebuild.py), the same codes as hash_rows and
        build_tables."""
        lsh.rebuild(W, self.t, self.proj, self.codes, self.tables, *self.buffers)


class AlshApprox(ActiveSetStrategy):
    name = "alsh-approx"

    def __init__(self, cfg, params, ledger):
        super().__init__(cfg, params, ledger)
        # The hash functions draw from their own child stream of --seed (npmlp/seeds.py), so that
        # adding ALSH options never shifts the main generator's sequence of masks and sample orders.
        self.hash_rng = child_generator(cfg.seed, "alsh")
        self.pool = lsh.make_uniform_pool(self.hash_rng)
        try:
            self.index = [_LayerIndex(cfg, p.W, self.hash_rng) for p in params[:-1]]
        except ValueError as e:   # settings the hash kernels cannot serve (e.g. DWTA's K * bits)
            raise UserError(f"ALSH-APPROX cannot hash with --alsh-hash {cfg.alsh_hash} "
                            f"--alsh-bits {cfg.alsh_bits} --alsh-tables {cfg.alsh_tables}: {e}"
                            ) from None
        self.policy = cfg.alsh_select
        self.tau = [max(int(cfg.alsh_active * p.W.shape[0]), 1) for p in params[:-1]]
        self.param = [self._policy_param(cfg, tau, p.W.shape[0]) for tau, p in
                      zip(self.tau, params[:-1])]
        self.schedule = RebuildSchedule(cfg.alsh_rebuild, cfg.alsh_rebuild_every,
                                        cfg.alsh_rebuild_growth, cfg.alsh_counter)
        self.seen_epoch = self.seen_total = self.epoch = 0
        self.rebuilds = 0
        self.recall = np.zeros(len(params) - 1)
        self.recall_n = 0
        for l, ix in enumerate(self.index):
            self._rebuild_layer(l, ix, params[l].W)

    @staticmethod
    def _policy_param(cfg, tau, n):
        if cfg.alsh_select == "topfreq":
            return int(np.ceil(cfg.alsh_active * n))
        if cfg.alsh_select == "threshold":
            return cfg.alsh_threshold
        return tau

    # --- selection ------------------------------------------------------------------------------
    def choose(self, l, x, xi, layer, rng):
        size = self._query(l, x, xi, layer)
        idx = np.sort(self.index[l].out[:size]).astype(np.int64)
        if self.cfg.alsh_recall_every and self._recall_step:
            self._measure_recall(l, x, layer, idx)
        return Selection(idx, x.dtype.type(1.0))

    def _query(self, l, x, xi, layer):
        """Hash Q(x) (Eq. 2) and select from the tables: the active units are index[l].out[:size]."""
        ix = self.index[l]
        itemsize = x.itemsize
        if l == 0:
            valid = lsh.hash_query(x, ix.t, ix.proj, ix.qcodes)
            cost = lsh.hash_query_cost(ix.proj, x.shape[0], ix.t.m, itemsize)
        else:
            valid = lsh.hash_sparse_query(x[xi], xi.astype(np.int32), ix.t, ix.proj, ix.qcodes)
            cost = lsh.hash_query_cost(ix.proj, x.shape[0], ix.t.m, itemsize, nnz=xi.shape[0])
        size = lsh.select(self.policy, ix.tables, ix.qcodes, valid, self.param[l], self.pool,
                          ix.out, ix.scratch)
        self.ledger.add_cost(l, "overhead", cost + lsh.select_cost(layer.W.shape[0], ix.proj.L,
                                                                   ix.n_bits, size))
        return size

    def choose_mask(self, l, a, z, layer, rng):
        """Batch N: one hashed active set per sample, as a mask (N, D_out); z is not needed."""
        mask = np.zeros((a.shape[0], layer.W.shape[0]), a.dtype)
        recall = self.cfg.alsh_recall_every and self._recall_step
        ix = self.index[l]
        if (not recall and self.policy == "edbt" and isinstance(ix.proj, lsh.SRPProjection)
                and (ix.proj.L + 5) * self.param[l] <= len(self.pool.u)):
            return self._choose_mask_compiled(l, a, layer, ix, mask)
        for n in range(a.shape[0]):
            x = a[n]
            size = self._query(l, x, np.flatnonzero(x) if l else None, layer)
            mask[n, self.index[l].out[:size]] = 1
            if recall:
                self._measure_recall(l, x, layer, np.flatnonzero(mask[n]))
        return mask

    def _choose_mask_compiled(self, l, a, layer, ix, mask):
        """The per-sample loop of choose_mask in one compiled call (kernels/active_batch_lsh.py):
        the same hashes, selections and pool draws, so the same mask bit for bit."""
        N = a.shape[0]
        sparse = l > 0
        if sparse:
            xin = ragged(a)
            xptr, xi, xv = xin.ptr, xin.ids, xin.vals
        else:
            xptr, xi, xv = np.zeros(N + 1, np.int64), np.zeros(0, np.int64), a[0, :0]
        proj, tables, tau, sc = ix.proj, ix.tables, self.param[l], ix.scratch
        sizes = np.zeros(N, np.int64)
        n = 0
        while n < N:
            n = KL.alsh_edbt_mask(a, xptr, xi, xv, sparse, lsh.query_constant(ix.t), ix.t.m,
                                  proj.planes, proj.planes_by_coord, proj.K, proj.L,
                                  tables.offsets, tables.ids, tau, self.pool.u, self.pool.cursor,
                                  ix.out, sc.mark, sc.buf, ix.qcodes, mask, sizes, n)
            if n < N:   # the pool ran low before sample n: refill it as lsh.select_edbt does
                lsh_select._uniforms(self.pool, (proj.L + 5) * tau)
        # the per-sample costs of `_query`, summed: both are affine in the non-zeros and the size
        d_in, itemsize, d_out = a.shape[1], a.itemsize, layer.W.shape[0]
        if sparse:
            nnz = np.diff(xptr)
            hq = (lsh.hash_query_cost(proj, d_in, ix.t.m, itemsize, nnz=int(nnz.sum()))
                  + _times(lsh.hash_query_cost(proj, d_in, ix.t.m, itemsize, nnz=0), N - 1))
        else:
            hq = _times(lsh.hash_query_cost(proj, d_in, ix.t.m, itemsize), N)
        sel = (lsh.select_cost(d_out, proj.L, ix.n_bits, int(sizes.sum()))
               + _times(lsh.select_cost(d_out, proj.L, ix.n_bits, 0), N - 1))
        self.ledger.add_cost(l, "overhead", hq + sel)
        return mask

    def _measure_recall(self, l, x, layer, idx):
        """|S ∩ top-tau(z)| / tau, with the clock and the ledger paused (a diagnostic)."""
        with self.ledger.phase(None):
            z = layer.W @ x + layer.b                    # (D_out, D_in) @ (D_in,): exact, uncounted
            tau = self.tau[l]
            top = np.argpartition(-z, tau - 1)[:tau]
            self.recall[l] += np.isin(top, idx, assume_unique=True).mean()
            self.recall_n += l == 0

    @property
    def _recall_step(self):
        return self.steps_taken % self.cfg.alsh_recall_every == 0

    # --- rebuilds -------------------------------------------------------------------------------
    steps_taken = 0

    def _rebuild_layer(self, l, ix, W):
        if self.cfg.alsh_redraw and self.rebuilds > 0:
            lsh.redraw_projection(self.hash_rng, ix.proj)
        ix.rebuild(W)
        self.ledger.add_cost(l, "overhead", ix.rebuild_cost)

    def rebuild_all(self, params):
        with self.ledger.phase("overhead"):
            for l, ix in enumerate(self.index):
                self._rebuild_layer(l, ix, params[l].W)
            self.rebuilds += 1

    def _drifted(self, params):
        """MONGOOSE-style check: share of changed bits in a 1-bit-per-table signature of all rows."""
        changed, total = 0, 0
        for ix, p in zip(self.index, params):
            planes = ix.proj.planes[::ix.proj.K] if hasattr(ix.proj, "planes") else None
            if planes is None:
                return True  # no projection planes (dwta): fall back to rebuilding
            sig = (p.W @ planes[:, :p.W.shape[1]].T) >= 0   # (D_out, L) first bit of each table
            if ix.signature is not None:
                changed += np.count_nonzero(sig != ix.signature)
                total += sig.size
            ix.signature = sig
        return total > 0 and changed / total > self.cfg.alsh_drift_threshold

    def after_step(self, ctx, params):
        n = ctx.batch_size
        self.seen_epoch += n
        self.seen_total += n
        self.steps_taken += 1
        if not self.schedule.due(self.seen_epoch, self.seen_total, n, self.epoch):
            return
        if self.cfg.alsh_rebuild == "drift":
            with self.ledger.phase("overhead"):
                if not self._drifted(params):
                    return
        self.rebuild_all(params)

    def start_epoch(self, epoch, n_samples):
        self.epoch, self.seen_epoch = epoch, 0
        self.schedule.epoch_size = n_samples

    def end_epoch(self, params):
        if self.schedule.at_epoch_end():
            self.rebuild_all(params)

    # --- evaluation -----------------------------------------------------------------------------
    def eval_forward(self, l, a, layer):
        if self.cfg.alsh_eval == "dense" or self.is_output(l):
            return super().eval_forward(l, a, layer)
        z = dense_forward(a, layer.W, layer.b)[0]         # masked below, as the KDD'17 code's output
        mask = self.choose_mask(l, a, z, layer, None)
        return self.act_forward(z)[0] * mask

    # --- statistics and state -------------------------------------------------------------------
    def epoch_stats(self):
        stats = super().epoch_stats()
        stats["stat_rebuilds"] = self.rebuilds
        if self.recall_n:
            for l in range(len(self.index)):
                stats[f"stat_recall_l{l + 1}"] = float(self.recall[l] / self.recall_n)
        self.recall[:] = 0
        self.recall_n = 0
        return stats

    def state_arrays(self):
        arrays = {"counters": np.array([self.seen_epoch, self.seen_total, self.epoch, self.rebuilds,
                                        self.steps_taken], np.int64),
                  "schedule": np.array(self.schedule.state(), np.float64),
                  "pool_u": self.pool.u, "pool_cursor": self.pool.cursor,
                  "hash_rng": np.frombuffer(json.dumps(self.hash_rng.bit_generator.state).encode(),
                                            np.uint8)}
        for l, ix in enumerate(self.index):
            arrays[f"codes{l}"] = ix.codes
            for name, value in _proj_arrays(ix.proj).items():
                arrays[f"proj{l}.{name}"] = value
        return arrays

    def load_state_arrays(self, arrays, params):
        (self.seen_epoch, self.seen_total, self.epoch, self.rebuilds,
         self.steps_taken) = (int(v) for v in arrays["counters"])
        self.schedule.load(arrays["schedule"])
        self.pool.u[...] = arrays["pool_u"]
        self.pool.cursor[...] = arrays["pool_cursor"]
        self.hash_rng.bit_generator.state = json.loads(bytes(arrays["hash_rng"]).decode())
        for l, ix in enumerate(self.index):
            for name, value in _proj_arrays(ix.proj).items():
                value[...] = arrays[f"proj{l}.{name}"]
            ix.codes[...] = arrays[f"codes{l}"]
            lsh.build_tables(ix.codes, ix.tables)


def _proj_arrays(proj):
    """Every array that defines a projection's hash functions (a NamedTuple of the kernels)."""
    return {k: v for k, v in proj._asdict().items() if isinstance(v, np.ndarray)}


def _times(cost, k):
    """k copies of a Cost, summed."""
    return Cost(cost.macs * k, cost.bytes_read * k, cost.bytes_written * k)
