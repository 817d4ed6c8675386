"""The fast path: batch-1 training run as chunks of fused compiled steps (kernels/fused_step.py).

The readable engine (engine.train_step with the strategies) is the reference. `engine.fit` asks
`make_runner(ts, cfg)` once, in one visible line; with `--fast-path off`, or when this configuration
has no fast path, it gets None and every step runs the reference. `why_not(ts, cfg)` says why.

Which configurations have one (METHODS is the list a strategy must be on):
    method      STANDARD, DROPOUT, ALSH-APPROX (every selection policy and hash family:
                kernels/fused_lsh.py), TOPK (its own chunk, kernels/fused_topk.py: input-major
                blocks, lazy block state), ADAPTIVE-DROPOUT (its own chunk,
                kernels/fused_adaptive.py: every unit's z, the compiled beta calibration, then
                DROPOUT's step on the kept units; both beta modes, calibrated or fixed beta); the
                chunk is chosen in Runner._chunk. MC-APPROX runs the reference path
    batch       1
    optimiser   SGD (with or without momentum), Adam (lazy per-row or dense state), Adagrad
    activation  ReLU; classes <= 128 (the loss's pairwise sum is one NumPy block)

Equal to the reference (tests/test_fastpath.py): the chunk draws the step's uniforms from the run's
generator in the reference's order (`rng.random(n * H)` = n calls of `rng.random(D_l)` per hidden
layer, for PCG64), calls the same kernels on the same numbers and updates the same rows. float64
DROPOUT, ALSH-APPROX, TOPK and ADAPTIVE-DROPOUT runs are bit-identical (parameters, optimiser state,
losses, ledger, ALSH's tables and pool, TOPK's per-unit Adam counts, ADAPTIVE's betas); float32 agree to
rounding (NumPy's SIMD float32 exp/log in the loss differ from libm's in the last bit); STANDARD
agrees to rounding (the reference's dense products are BLAS calls).

A chunk ends wherever Python must act: at the end of the epoch (evaluation, checkpoint), every CHUNK
steps (progress bar, Ctrl-C), and before a step the chunk cannot take: a loss that is not finite, an
ALSH recall measurement. The engine runs such a step on the reference path (which reports the
divergence, measures recall). Inside a chunk, Runner.run splits ALSH's steps into compiled calls
that end after a step whose rebuild schedule is due (the strategy's own after_step then rebuilds
the tables, kernels/lsh_rebuild.py) and when its uniform pool could need a second refill (each call
can use the pool generator's next block, drawn ahead and given back when unused).

The ledger gets the same work entries as the reference would record (npmlp/fastpath_ledger.py). Time: a fused step has no boundary between forward, backward and update
that a clock could see, so the chunk's wall time is charged to its own phase, "fused" (the epoch
line's `fused` column); splitting it by modelled proportions would report numbers nobody measured.
"""
import time

import numpy as np

from kernels import fused_adaptive as KFA
from kernels import fused_lsh as FLSH
from kernels import fused_step as KS
from kernels import fused_topk as KFT

from .fastpath_ledger import account
from .optim import lr_factor
from .strategies.alsh_chunks import alsh_after_steps, alsh_steps_to_event
from .strategies.base import StepContext

CHUNK = 500           # steps per compiled call: the progress bar and Ctrl-C are served between
METHODS = {"standard": KS.STANDARD, "dropout": KS.DROPOUT, "alsh-approx": KS.ALSH,
           "topk": KFT.TOPK, "adaptive-dropout": KFA.ADAPTIVE}
OPTIMIZERS = {"sgd": KS.SGD, "adam": KS.ADAM, "adagrad": KS.ADAGRAD}
MAX_CLASSES = 128


def why_not(ts, cfg):
    """None when this run has a fast path, else the reason (a sentence)."""
    name = getattr(ts.strategy, "name", None)
    if name not in METHODS:
        return f"method {cfg.method} has no fused step (only {', '.join(METHODS)})"
    if cfg.batch_size != 1:
        return "the fused step is batch 1 only"
    if cfg.activation != "relu":
        return "the fused step implements ReLU only"
    if cfg.optimizer not in OPTIMIZERS:
        return f"optimizer {cfg.optimizer} has no fused update"
    if name == "alsh-approx" and cfg.alsh_select not in FLSH.POLICIES:
        return f"ALSH's selection policy {cfg.alsh_select} has no fused selection"
    if name == "alsh-approx" and FLSH.pool_need(cfg.alsh_select, cfg.alsh_tables,
                                                ts.strategy.param) > len(ts.strategy.pool.u):
        return "ALSH's active sets need more uniforms per step than its pool holds"
    if "after_step" in vars(ts.strategy):
        return "a per-step hook is installed on the strategy (a chunk cannot call it)"
    if ts.params[-1].W.shape[0] > MAX_CLASSES:
        return f"more than {MAX_CLASSES} classes"
    return None


def make_runner(ts, cfg):
    """A Runner for this run, or None (then the reference path runs every step); with --hogwild,
    npmlp/hogwild.py's runner (or its UserError when this run has no fast path)."""
    if cfg.hogwild:
        from . import hogwild
        return hogwild.make_runner(ts, cfg, why_not(ts, cfg))
    return Runner(ts, cfg) if why_not(ts, cfg) is None else None


class Runner:
    """Runs chunks of fused batch-1 steps on a TrainState; holds the kernels' scratch."""

    chunk = staticmethod(KS.fused_chunk)   # npmlp/hogwild.py spreads this call over threads

    def __init__(self, ts, cfg):
        self.cfg = cfg
        self.method = METHODS[ts.strategy.name]
        self.opt = OPTIMIZERS[cfg.optimizer]
        self.dtype = ts.params[0].W.dtype
        self.sparse_state = bool(ts.optimizer.sparse_state)
        self.L = len(ts.params)
        self.ws = (KFT.make_workspace([p.W.shape for p in ts.params], self.dtype)
                   if self.method == KFT.TOPK else
                   KFA.make_workspace([p.W for p in ts.params], self.dtype)
                   if self.method == KFA.ADAPTIVE else
                   KS.make_workspace([p.W for p in ts.params], self.dtype))
        self.counts = np.zeros((self.L, KS.N_COUNTS), np.int64)
        self.loss_sum = np.zeros(1)
        self.hidden = (sum(p.W.shape[0] for p in ts.params[:-1])   # one uniform per hidden unit
                       if self.method in (KS.DROPOUT, KFA.ADAPTIVE) else 0)
        self._u = np.empty(CHUNK * self.hidden)
        self.draw_seconds = 0.0       # time drawing the chunks' uniforms (not a ledger phase)
        strategy = ts.strategy
        self.p = float(getattr(strategy, "p", 1.0))
        self.scale = self.dtype.type(getattr(strategy, "scale", 1.0))
        self.pow1 = self.pow2 = np.ones(1)
        # TOPK: kept units per layer (the output layer keeps all C)
        self.ks = np.array([*getattr(strategy, "k", [])[:-1], ts.params[-1].W.shape[0]], np.int64)
        self._bound = None
        self._no_trows = [np.zeros(1, np.int64) for _ in ts.params]
        self._X = self._Xc = None
        self.pool_need = 0
        self._no_pool = (np.zeros(1), np.zeros(1, np.int64), np.zeros(2))
        self._pool_next = np.zeros(1 + len(ts.strategy.pool.u)) if self.method == KS.ALSH else None

    # --- binding the run's arrays (typed lists are built once, rebuilt if an array is replaced)
    def _arrays(self, ts):
        st, dt = ts.optimizer.state, self.dtype
        Ws = [p.W for p in ts.params]
        bs = [p.b for p in ts.params]

        def state(key, default):
            return [s[key] if key in s else d for s, d in zip(st, default)]
        bcol = [np.zeros((1, 1), dt)] * self.L
        if self.opt == KS.ADAM:
            S = (state("m_W", Ws), state("v_W", Ws), state("m_b", bs), state("v_b", bs))
        elif self.opt == KS.ADAGRAD:
            S = (state("h_W", Ws), Ws, state("h_b", bs), bs)
        else:
            S = (state("vel_W", Ws), Ws, state("vel_b", bs), bs)
        # one placeholder per layer, kept: a new array per call would change _bind's key and rebuild
        # the typed lists at every chunk (~10 ms a chunk; ALSH's chunks end every 100 steps)
        trows = [s["t_rows"] if "t_rows" in s else z for s, z in zip(st, self._no_trows)]
        return Ws, bs, S, trows, bcol

    def _lsh_layers(self, ts):
        """Every array of ALSH's layer indexes that fused_lsh.LshArgs lists (for _bind's key)."""
        if self.method != KS.ALSH:
            return []
        return [(*(v for v in ix.proj if isinstance(v, np.ndarray)), ix.tables.offsets,
                 ix.tables.ids, ix.qcodes, ix.out, *ix.scratch) for ix in ts.strategy.index]

    def _bind(self, ts):
        Ws, bs, (S1, S2, S1b, S2b), trows, _ = self._arrays(ts)
        layers = self._lsh_layers(ts)
        key = [id(a) for a in (*Ws, *bs, *S1, *S2, *S1b, *S2b, *trows, *sum(layers, ()))]
        if key != self._bound:
            self.lsh = FLSH.no_lsh(self.dtype)
            if layers:
                st = ts.strategy
                self.lsh = FLSH.lsh_args(st.index, st.policy, st.param, self.dtype)
                self.pool_need = FLSH.pool_need(st.policy, st.index[0].proj.L, st.param)
            if self.method == KFT.TOPK:      # input-major: W.T and its state's .T, C-contiguous
                self.lists = dict(WTs=KS.as_list(W.T for W in Ws), bs=KS.as_list(bs),
                                  S1=KS.as_list(a.T for a in S1), S2=KS.as_list(a.T for a in S2),
                                  S1b=KS.as_list(S1b), S2b=KS.as_list(S2b),
                                  trows=KS.as_list(trows))
            else:
                self.lists = dict(
                    Ws=KS.as_list(Ws), bs=KS.as_list(bs), bs2=KS.as_list(b[:, None] for b in bs),
                    S1=KS.as_list(S1), S2=KS.as_list(S2),
                    S1b=KS.as_list(b.reshape(-1, 1) for b in S1b),
                    S2b=KS.as_list(b.reshape(-1, 1) for b in S2b), trows=KS.as_list(trows))
            self._bound = key
            self._keep = (Ws, bs, S1, S2, S1b, S2b, trows)   # the lists view these arrays

    def _inputs(self, X):
        if self._X is not X:
            self._X, self._Xc = X, np.ascontiguousarray(X, dtype=self.dtype)
        return self._Xc

    def _pow_tables(self, ts, n):
        """b1^t and b2^t for every t a lazy Adam row can reach in the next n steps, computed by
        the same NumPy power the reference calls (so the same rounding)."""
        need = max(int(s["t_rows"].max()) for s in ts.optimizer.state) + n + 1
        if self.pow1.shape[0] < need:
            t = np.arange(max(need, 2 * self.pow1.shape[0]), dtype=np.float64)
            self.pow1, self.pow2 = self.cfg.beta1 ** t, self.cfg.beta2 ** t

    # --- one chunk
    def run(self, ts, X, y, n, total_steps):
        """Run up to n steps of the current epoch (samples ts.perm[ts.pos:ts.pos + n]); advance
        ts exactly as n reference steps would. Returns the number of steps done.

        ALSH-APPROX's table rebuilds (and its pool refills past the one drawn ahead) happen inside
        this call, between compiled calls over the steps from one event to the next: the setup
        here (rates, draws, binding) and the ledger's accounting are paid once per call, not once
        per rebuild."""
        cfg, opt = self.cfg, ts.optimizer
        self._bind(ts)
        alsh = self.method == KS.ALSH
        if alsh and alsh_steps_to_event(ts.strategy, cfg) == 0:
            return 0            # a recall measurement: the reference step takes it
        order = np.ascontiguousarray(ts.perm[ts.pos:ts.pos + n], dtype=np.int64)
        n = order.shape[0]
        # each step's rate exactly as engine.fit computes it (constant: the same product, once)
        if cfg.lr_schedule == "constant":
            lrs = np.full(n, cfg.lr * lr_factor("constant", 0.0))
        else:
            lrs = np.array([cfg.lr * lr_factor(cfg.lr_schedule, (ts.step + s) / total_steps)
                            for s in range(n)])
        adam_dense = np.zeros((n, 2))
        if self.opt == KS.ADAM and not self.sparse_state:
            for s in range(n):
                t = opt.t + s + 1
                adam_dense[s] = (lrs[s] / (1 - cfg.beta1 ** t), 1 / np.sqrt(1 - cfg.beta2 ** t))
        if self.opt == KS.ADAM and self.sparse_state and self.method != KFT.TOPK:
            self._pow_tables(ts, n)
        t_draw = time.perf_counter()               # the draws, timed for bench/method_epoch.py
        rng_state = ts.rng.bit_generator.state
        if self._u.shape[0] < n * self.hidden:      # the draws' buffer, reused: no page faults
            self._u = np.empty(n * self.hidden)
        u = self._u[:n * self.hidden]
        ts.rng.random(out=u)                       # the same numbers as rng.random(n * hidden)
        u = u.reshape(n, self.hidden)
        self.counts[:] = 0
        self.loss_sum[0] = ts.epoch_loss_sum
        pool = ts.strategy.pool if alsh else None
        if alsh:
            self._pool_ahead(pool)
        self.draw_seconds += time.perf_counter() - t_draw
        done = 0
        while done < n:
            k = min(n - done, alsh_steps_to_event(ts.strategy, cfg)) if alsh else n
            if k == 0:
                break           # a recall measurement: the reference step takes it
            with ts.ledger.phase("fused"):
                got = self._chunk(ts, X, y, order[done:done + k], u[done:done + k],
                                  lrs[done:done + k], adam_dense[done:done + k], pool)
            done += got
            opt.t += got
            ts.step += got
            if not alsh:
                break
            wants_refill = (len(pool.u) - pool.cursor[0] < self.pool_need
                            and self._pool_next[0] != 0)
            if got:
                # the rebuild may draw new hash functions from the pool's generator (alsh_redraw):
                # the block drawn ahead goes back first, so the draws come in the reference's order
                if cfg.alsh_redraw:
                    self._pool_back(pool)
                alsh_after_steps(ts.strategy, got, StepContext(ts.rng, 1, ts.step), ts.params)
                if cfg.alsh_redraw:
                    self._pool_ahead(pool)
            if got < k and not wants_refill:
                break           # a non-finite loss: the reference step reports it
            if wants_refill:
                self._pool_ahead(pool)
        if alsh:
            self._pool_back(pool)
        if done < n:     # a step not taken: give back its uniforms and those after it
            ts.rng.bit_generator.state = rng_state
            ts.rng.random(done * self.hidden)
        if done:
            account(self, ts, done)
        ts.pos += done
        ts.epoch_batches += done
        ts.epoch_loss_sum = float(self.loss_sum[0])
        return done

    def _chunk(self, ts, X, y, order, u, lrs, adam_dense, pool):
        """One compiled call over the steps of `order`; returns the number done. The one place that
        picks the method's chunk."""
        cfg, dt = self.cfg, self.dtype.type
        if self.method == KFT.TOPK:      # TOPK's own chunk: input-major blocks, lazy block state
            return KFT.fused_topk_chunk(
                self.opt, self._inputs(X), y, order, lrs, self.ks, mu=float(cfg.momentum),
                b1=float(cfg.beta1), b2=float(cfg.beta2), eps=float(cfg.eps),
                counts=self.counts, loss_sum=self.loss_sum, **self.lists, **self.ws)
        if self.method == KFA.ADAPTIVE:  # its own chunk: every z, calibrated keep, then the kept
            st = ts.strategy
            return KFA.fused_adaptive_chunk(
                self.opt, self.sparse_state, self._inputs(X), y, order, u, lrs, adam_dense,
                self.pow1, self.pow2, alpha=float(st.alpha), target=float(st.target),
                per_weight=bool(st.per_weight), betas=st.beta, mu=dt(cfg.momentum),
                b1=dt(cfg.beta1), b2=dt(cfg.beta2), c1=dt(1 - cfg.beta1), c2=dt(1 - cfg.beta2),
                eps=dt(cfg.eps), counts=self.counts, loss_sum=self.loss_sum, **self.lists,
                **self.ws)
        pool = self._no_pool if pool is None else (pool.u, pool.cursor, self._pool_next)
        return self.chunk(        # fused_step.fused_chunk (npmlp/hogwild.py: spread over threads)
            self.method, self.opt, self.sparse_state, self._inputs(X), y, order, u, lrs,
            adam_dense, self.pow1, self.pow2, self.lsh, *pool, self.pool_need, p=self.p,
            scale=self.scale, mu=dt(cfg.momentum), b1=dt(cfg.beta1), b2=dt(cfg.beta2),
            c1=dt(1 - cfg.beta1), c2=dt(1 - cfg.beta2),   # 1 - beta in float64, rounded once
            eps=dt(cfg.eps), counts=self.counts, loss_sum=self.loss_sum, **self.lists, **self.ws)

    # --- ALSH's uniform pool: the compiled chunk cannot call its generator, so the next refill is
    # drawn ahead into _pool_next (flag 0: unused); an unused block is given back to the generator
    def _pool_ahead(self, pool):
        self._pool_state = pool.rng.bit_generator.state
        self._pool_next[0] = 0
        self._pool_next[1:] = pool.rng.random(len(pool.u))

    def _pool_back(self, pool):
        if self._pool_next[0] == 0:
            pool.rng.bit_generator.state = self._pool_state
            self._pool_next[0] = 1        # nothing drawn ahead now
