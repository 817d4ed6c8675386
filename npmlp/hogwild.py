"""HOGWILD on the batch-1 fast path: a chunk's samples run on T threads sharing W, b and the optimiser
state without locks (Recht et al. 2011; the KDD'17 LSH code's LAYER_THREADS network clones).

Opt-in (`--hogwild T`, config.py validates it), never the default: bench/README.md measures it.
Each worker runs the ordinary compiled chunk (kernels/fused_step.py:fused_chunk, which releases the
GIL) on its own contiguous block of the chunk's steps, with its own scratch, its own rows of the
pre-drawn uniforms, learning rates and Adam step sizes, its own work counts and loss sum. The
parameters and optimiser state are the run's own arrays, read and written in place by all workers
at once. The workers are Python threads calling the nogil chunk, not a `prange` kernel: every step
runs compiled either way (a chunk is ~100 ms, a thread hand-off ~0.1 ms), no second variant of the
whole step is compiled (fused_step takes 30-70 s to compile here, and a parallel twin could not
share its cache entry, kernels/_jit.py), and T = 1 is exactly the fused path's call
(tests/test_hogwild.py: bit for bit).

What races, and why it is benign (HOGWILD's argument: a sample's update touches few rows, so two
concurrent updates rarely collide, and a collision loses or mixes one update, it does not corrupt):
  - W, b, momentum/Adam/Adagrad state: element reads and writes of aligned floats are atomic on x86,
    so a reader sees an old or a new value, never a torn one; two workers updating the same row in
    the same moment may each overwrite part of the other's update (a lost update, as in HOGWILD).
    DROPOUT at 5% keeps ~50 of 1000 units per layer, so two concurrent steps share ~2.5 rows per
    hidden layer (1000 x 0.05^2); the 10-unit output layer, and STANDARD's every row, are written by
    both workers on every step (and the cache lines holding them move between the cores).
  - Adam's m and v of one element are two writes: a worker may write m and another v in between,
    leaving a pair no sequential run has (v from a sample whose gradient there was small, m from one
    whose gradient was large), so that element's next steps are larger than Adam's. It needs both
    workers on the same element within nanoseconds, so it is rare; not benign in principle (SLIDE
    avoids it by applying Adam in a separate pass partitioned by unit, after a batch's HOGWILD
    gradient accumulation). 1-epoch accuracies with and without HOGWILD are in bench/README.md.
  - Adam's lazy per-row step counts (t_rows): `t += 1` may lose an increment, so a row's count can
    fall behind its visits and its bias correction 1/(1 - beta^t) be that of an earlier step (larger
    by a factor that tends to 1 once t is in the thousands). A count never exceeds its visits, so the
    b1^t, b2^t tables (sized for the chunk's n steps) are never read past their end.
  - The run's generator is not touched by the workers: the chunk draws its uniforms before they
    start, the same numbers the fused path draws, so the generator's state after a chunk is the same.
Not included: ALSH-APPROX (its uniform pool's cursor and refill, and its tables' scratch, are one per
strategy) and TOPK (its own chunk and block state), so config.py rejects them with --hogwild.

Not reproducible: which update lands first depends on the scheduler, so two runs with the same seed
differ in the last bits and then beyond (the run summary says so). A non-finite loss in any worker
stops the run with TrainingDiverged: its step cannot be replayed on the reference path, since the
other workers' steps after it may already be applied.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kernels import fused_step as KS

from .errors import TrainingDiverged, UserError
from .fastpath import Runner

METHODS = ("standard", "dropout")


def make_runner(ts, cfg, reason):
    """The HOGWILD runner for cfg.hogwild workers; `reason` is fastpath.why_not's answer (a run
    without a fast path cannot run HOGWILD, and says why rather than silently running 1 thread)."""
    if reason is not None:
        raise UserError(f"--hogwild {cfg.hogwild} needs the batch-1 fast path, which this run "
                        f"does not have: {reason}. Drop --hogwild.")
    return HogwildRunner(ts, cfg)


def block(n, k, T):
    """Worker k's steps of a chunk of n: a contiguous block, so its rows of the per-step arrays are
    C-contiguous views (no copy; the compiled chunk's layout)."""
    return slice(k * n // T, (k + 1) * n // T)


class HogwildRunner(Runner):
    """fastpath.Runner with its chunk call spread over T threads."""

    def __init__(self, ts, cfg):
        super().__init__(ts, cfg)
        self.T = int(cfg.hogwild)
        ws = [self.ws] + [KS.make_workspace([p.W for p in ts.params], self.dtype)
                          for _ in range(self.T - 1)]
        self.workers = [dict(ws=w, counts=np.zeros_like(self.counts), loss_sum=np.zeros(1))
                        for w in ws]
        self.pool = ThreadPoolExecutor(self.T - 1, "hogwild") if self.T > 1 else None

    def chunk(self, method, opt, sparse_state, X, Y, order, u, lrs, adam_dense, *shared,
              counts, loss_sum, **kw):
        """fused_chunk's call, worker k taking the k-th of T blocks of steps. Worker 0 runs in this
        thread on the runner's own scratch, counts and loss sum (which starts at the epoch's running
        sum), so T = 1 is the fused path's call itself; the others' counts and sums are added after."""
        n, T = order.shape[0], self.T
        names = self.workers[0]["ws"].keys()
        shared_kw = {k: v for k, v in kw.items() if k not in names}

        def work(k):
            w = self.workers[k]
            mine = dict(counts=counts, loss_sum=loss_sum)
            if k > 0:
                mine = dict(counts=w["counts"], loss_sum=w["loss_sum"])
                mine["counts"][:] = 0
                mine["loss_sum"][0] = 0.0
            steps = [a[block(n, k, T)] for a in (order, u, lrs, adam_dense)]
            return KS.fused_chunk(method, opt, sparse_state, X, Y, *steps, *shared, **mine,
                                  **shared_kw, **w["ws"])
        busy = [k for k in range(1, T) if k * n // T < (k + 1) * n // T]
        futures = [self.pool.submit(work, k) for k in busy]
        done = [work(0)] + [f.result() for f in futures]
        for k in busy:
            counts += self.workers[k]["counts"]
            loss_sum[0] += self.workers[k]["loss_sum"][0]
        if any(d < len(range(n)[block(n, k, T)]) for k, d in zip([0] + busy, done)):
            raise TrainingDiverged(
                f"the loss became non-finite in a HOGWILD chunk (steps {self._step + 1}.."
                f"{self._step + n}); HOGWILD steps cannot be replayed one by one to say which step "
                f"and layer. Try a smaller --lr, or run without --hogwild to locate it.")
        return n

    def run(self, ts, X, y, n, total_steps):
        self._step = ts.step
        return super().run(ts, X, y, n, total_steps)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()
