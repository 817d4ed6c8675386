"""Shared helpers of bench/epoch_time.py and bench/compare_torch.py: the machine's measured peaks, the
data, building an npmlp run, the sample stream, npmlp timing windows (reference and fast path), a
bandwidth probe, and median (min-max) formatting.

Shape legend: N training samples, D input width (784), B batch size; X (N, D), y (N,) int64.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from npmlp.config import Config, parse_hidden  # noqa: E402
from npmlp.data import Dataset, Split  # noqa: E402
from npmlp.ledger import PRODUCT_PHASES, WORK_PHASES  # noqa: E402

# ------------------------------------------------------------------ the machine's measured peaks
# From shared notes/performance-facts.md (the build machine: 2 Zen 4 cores, 32 MiB L3), keyed by
# (dtype, threads). GFLOP/s = 2 FLOPs per multiply-add.
FMA_PEAK_GFLOPS = {  # §2.1: peak_flops.c, 12 independent FMA chains (fp32 113-117 on one core)
    ("float32", 1): 116.0, ("float32", 2): 233.0,
    ("float64", 1): 57.5, ("float64", 2): 116.0,
}
GEMM_1000_GFLOPS = {  # §2.2: numpy's OpenBLAS on a 1000^3 GEMM, the best BLAS rate at these sizes
    ("float32", 1): 99.7, ("float32", 2): 198.4,
    ("float64", 1): 49.1, ("float64", 2): 98.1,
}
# §2.3 and §3: GEMV over the net's 4 weight matrices (11.2 MB, fits L3) as a bandwidth probe. The
# batch-1 working set lives here (SGD); the note's NumPy-sger step sustained ~70 GB/s, above the probe.
L3_GEMV_GBS = {1: 60.1, 2: 117.2}
DRAM_COPY_GBS = {1: 25.5, 2: 31.3}  # §2.3: STREAM copy on 400 MB arrays (Adam's W, m, v spill here)

PAPER_HIDDEN = (1000, 1000, 1000)   # EDBT §8.4: 784-1000-1000-1000-10, ReLU
EPOCH_SAMPLES = 55_000              # the paper's MNIST training split
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3}


# ------------------------------------------------------------------ data

def random_dataset(n=EPOCH_SAMPLES, d=784, classes=10, seed=0, dtype=np.float32):
    """Seeded random data of MNIST shape: X uniform in [0, 1], labels 0..classes-1. Timing of exact
    training does not depend on the pixel values, only on the shapes."""
    g = np.random.default_rng(seed)
    X = g.random((n, d), dtype=np.float32).astype(dtype, copy=False)
    y = g.integers(0, classes, n).astype(np.int64)
    tiny = Split(X[:1], y[:1])  # validation/test are not used by the benchmarks
    return Dataset("random", classes, (d,), Split(X, y), tiny, tiny, f"random (seed {seed})")


def load_bench_data(kind, samples=0, dtype="float32"):
    """'mnist' (the real training split, fetched/cached by npmlp.data) or 'random' (MNIST shape).
    `samples` > 0 keeps only the first that many training samples (smoke tests)."""
    if kind == "random":
        data = random_dataset(n=samples or EPOCH_SAMPLES, dtype=np.dtype(dtype))
    else:
        from npmlp.data import load
        data = load(kind, limit=samples or None, progress=False)
        if dtype != "float32":
            data = data._replace(train=data.train._replace(X=data.train.X.astype(dtype)))
    return data


# ------------------------------------------------------------------ an npmlp run

def make_config(optimizer, batch, threads, lr=None, eps=1e-8, hidden=PAPER_HIDDEN,
                dtype="float32", seed=0):
    """STANDARD with the paper's network unless told otherwise."""
    if isinstance(hidden, str):
        hidden = parse_hidden(hidden)
    return Config(method="standard", hidden=tuple(hidden), activation="relu", init="he",
                  optimizer=optimizer, lr=DEFAULT_LR[optimizer] if lr is None else lr, eps=eps,
                  batch_size=batch, threads=threads, dtype=dtype, seed=seed,
                  lr_schedule="constant")  # as PyTorch's plain optimisers


def prepare(cfg, data):
    """Pin threads, compile STANDARD's kernels (before any clock starts), build a fresh TrainState.
    STANDARD runs only the fused optimiser kernels, so only kernels.update is warmed up: the full
    kernels.warmup() would also compile every sampling method's kernels, which STANDARD never calls."""
    from npmlp.runner import build_state
    from npmlp.threads import set_threads
    from kernels import update
    set_threads(cfg.threads)
    update.warmup()
    return build_state(cfg, data)


class SampleStream:
    """The order in which samples are visited: a seeded permutation per pass, consumed B at a time
    (as engine.fit does), so two trainers fed from two streams with the same seed see the same batches."""

    def __init__(self, n, batch, seed=0):
        self.n, self.batch = n, batch
        self.rng = np.random.default_rng(seed)
        self.perm, self.pos = self.rng.permutation(n), 0

    def next(self):
        if self.pos + self.batch > self.n:  # a new pass; drop the ragged tail (timing only)
            self.perm, self.pos = self.rng.permutation(self.n), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


def ledger_work(ledger):
    """{phase: [macs, bytes_read, bytes_written]} totals so far."""
    return {ph: [int(v) for v in ledger.totals(ph)] for ph in WORK_PHASES}


def npmlp_window(ts, X, y, stream, steps):
    """Run `steps` training steps exactly as engine.fit does (gather the batch, train_step).
    Returns wall seconds, ledger seconds per phase and ledger work per phase over the window."""
    from npmlp.engine import train_step
    led = ts.ledger
    t_before, w_before = dict(led.times), ledger_work(led)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = stream.next()
        train_step(ts, X[idx], y[idx])
    wall = time.perf_counter() - t0
    times = {k: led.times[k] - t_before[k] for k in led.times}
    work = {ph: [a - b for a, b in zip(v, w_before[ph])] for ph, v in ledger_work(led).items()}
    return wall, times, work


def fast_window(ts, runner, X, y, stream, steps):
    """`steps` batch-1 steps on the fast path, in chunks as engine.fit runs them; same returns as
    npmlp_window, and the number of chunk calls."""
    from npmlp import fastpath
    led = ts.ledger
    order = np.concatenate([stream.next() for _ in range(steps)]).astype(np.int64)
    ts.perm, ts.pos = order, 0
    t_before, w_before = dict(led.times), ledger_work(led)
    chunks = 0
    t0 = time.perf_counter()
    while ts.pos < steps:
        chunks += 1
        if not runner.run(ts, X, y, min(fastpath.CHUNK, steps - ts.pos), 10 ** 12):
            reference_step(ts, X, y)          # as engine.fit: a step the chunk cannot take
    wall = time.perf_counter() - t0
    times = {k: led.times[k] - t_before[k] for k in led.times}
    work = {ph: [a - b for a, b in zip(v, w_before[ph])] for ph, v in ledger_work(led).items()}
    return wall, times, work, chunks


def reference_step(ts, X, y):
    """The step at ts.perm[ts.pos] on the reference path (ALSH's recall or pool refill)."""
    from npmlp.engine import train_step
    i = ts.perm[ts.pos]
    train_step(ts, X[i:i + 1], y[i:i + 1])
    ts.pos += 1


class CopyProbe:
    """The DRAM bandwidth as this process sees it now: a copy of one `mb` MB float64 array into
    another (pre-touched, so no page faults), GB/s with STREAM's byte counting (read + written).
    Called between timing windows, it measures the same machine state the windows run in."""

    def __init__(self, mb=400):
        self.src = np.ones(int(mb * 1e6) // 8)
        self.dst = np.zeros_like(self.src)
        self.samples = []

    def __call__(self):
        t0 = time.perf_counter()
        np.copyto(self.dst, self.src)
        gbs = 2 * self.src.nbytes / (time.perf_counter() - t0) / 1e9
        self.samples.append(gbs)
        return gbs


def product_macs(work):
    return sum(work[ph][0] for ph in PRODUCT_PHASES)


def total_bytes(work):
    return sum(w[1] + w[2] for w in work.values())


# ------------------------------------------------------------------ repeated launches

def relaunch_argv(script, args, scalars, lists=("batch", "threads", "optimizer")):
    """The command line that re-runs `script` in a fresh process with the parsed `args`: each name in
    `scalars` as `--name value` (repr for floats, so they round-trip), each in `lists` as
    `--name v1 v2 ...`, and --lr when it was given."""
    argv = [sys.executable, os.path.abspath(script)]
    for name in scalars:
        value = getattr(args, name)
        if name == "hidden":
            value = ",".join(map(str, value))
        argv += ["--" + name.replace("_", "-"), repr(value) if isinstance(value, float) else str(value)]
    for name in lists:
        argv += ["--" + name, *map(str, getattr(args, name))]
    if args.lr is not None:
        argv += ["--lr", repr(args.lr)]
    return argv


def child_or_launches(args, run_launch, argv):
    """The shared main of the self-relaunching scripts. As a child (--child-out PATH): one launch,
    its JSON written to PATH; returns (None, 0). As the parent: load the data once to fail early with
    the fetch hint, then run the launches; returns (launches, 0) or (None, exit code)."""
    import json

    from npmlp.errors import UserError
    try:
        if args.child_out:
            with open(args.child_out, "w") as f:
                json.dump(run_launch(args), f)
            return None, 0
        load_bench_data(args.data, args.samples or 1)
    except UserError as e:
        print(f"error: {e}\n(or run with --data random: seeded random data of MNIST shape)",
              file=sys.stderr)
        return None, e.exit_code
    return run_launches(argv, args.repeats)


def run_launches(argv, repeats):
    """Run `argv + ['--child-out', PATH]` in `repeats` fresh processes, one after another (a launch
    is the unit of noise on this machine: performance-facts.md §5.3). Returns (list of the JSON each
    child wrote, 0), or (None, exit code) after printing a failed child's output."""
    launches = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "launch.json")
            t0 = time.perf_counter()
            proc = subprocess.run(argv + ["--child-out", path], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0:
                print(proc.stdout, file=sys.stderr)
                return None, proc.returncode
            with open(path) as f:
                launches.append(json.load(f))
        print(f"launch {i + 1}/{repeats} done in {time.perf_counter() - t0:.0f}s "
              f"(load average {machine_load():.1f})", flush=True)
    return launches, 0


# ------------------------------------------------------------------ statistics and formatting

def med_range(values):
    v = np.asarray(values, dtype=float)
    return float(np.median(v)), float(v.min()), float(v.max())


def fmt_range(values, digits=1):
    m, lo, hi = med_range(values)
    if len(values) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def machine_load():
    """The 1-minute load average (other engineers share this machine; the notes must say so)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")
