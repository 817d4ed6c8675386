"""The ledger: every product the engine performs, and where the time went.

Work is recorded per (layer, phase) as multiply-adds, bytes read and bytes written. Phases:

    forward          z = a W + b of each layer (EDBT §4)
    backward-input   delta propagated to the layer below, W delta (Eq. 1)
    backward-weight  the weight gradient a^{k-1} delta^k (Eq. 1)
    update           the optimiser's pass over weights and state (MACs column = elements updated)
    overhead         what a sampling method spends choosing what to compute: hashing, table
                     rebuilds, probabilities, masks, gathers

The exact method's work is known from the layer sizes and the number of samples seen, so "compute
reduction" (Adelman et al.'s metric: multiply-adds saved in the layer products, forward and backward,
over exact training) is a read-out: 1 - done / exact over the three product phases.

Wall time is charged by a phase clock. `with ledger.phase(name):` charges the time spent inside the
block to `name` and, on leaving, resumes the phase that was running (blocks nest: a strategy's
`with ledger.phase("overhead"):` inside the engine's forward phase). `phase(None)` pauses the clock
(a diagnostic that must not be timed). Phase times are "forward", "backward", "update", "overhead",
"eval", and "fused": a compiled batch-1 step (npmlp/fastpath.py) has no phase boundary a clock can
see, so its time is its own phase.
"""
import time
from collections import defaultdict

import numpy as np

PRODUCT_PHASES = ("forward", "backward-input", "backward-weight")
WORK_PHASES = PRODUCT_PHASES + ("update", "overhead")
TIME_PHASES = ("forward", "backward", "update", "overhead", "eval", "fused")


class Ledger:
    def __init__(self, sizes):
        self.sizes = list(sizes)              # [D_0, ..., D_L]
        # (layer, phase) -> [macs, bytes read, bytes written] as Python ints: a batch-1 step makes
        # ~18 additions; timeit of add() gave 0.42 us with ints against 0.63 us with int64 arrays.
        self.work = defaultdict(lambda: [0, 0, 0])
        self.times = dict.fromkeys(TIME_PHASES, 0.0)
        self.samples = 0                      # training samples seen (for the exact reference)
        self.counters = defaultdict(float)    # free-form per-method statistics (e.g. active units)
        self._phase = None
        self._t = 0.0
        self._stack = []                      # phases to resume, innermost last
        self._phases = {}                     # name -> its reusable context manager

    # --- work -----------------------------------------------------------------------------
    def add(self, layer, phase, macs, bytes_read=0, bytes_written=0):
        w = self.work[(layer, phase)]
        w[0] += int(macs)
        w[1] += int(bytes_read)
        w[2] += int(bytes_written)

    def add_cost(self, layer, phase, cost):
        self.add(layer, phase, cost.macs, cost.bytes_read, cost.bytes_written)

    def add_costs(self, layer, costs):
        """{phase: Cost} of one layer call, e.g. a fused pass that does the work of several phases."""
        for phase, cost in costs.items():
            self.add(layer, phase, cost.macs, cost.bytes_read, cost.bytes_written)

    def exact_macs(self, phase, layer=None, samples=None):
        """MACs the exact method performs for `samples` (default: all seen) samples. The input gradient of the first
        layer is never needed (nothing below it learns), so exact training skips it too."""
        layers = range(len(self.sizes) - 1) if layer is None else [layer]
        samples = self.samples if samples is None else samples
        total = 0
        for l in layers:
            per_sample = self.sizes[l] * self.sizes[l + 1]
            if phase == "backward-input" and l == 0:
                continue
            total += per_sample * samples
        return total

    def totals(self, phase=None, layer=None):
        out = [0, 0, 0]
        for (l, ph), w in self.work.items():
            if (phase is None or ph == phase) and (layer is None or l == layer):
                out = [a + b for a, b in zip(out, w)]
        return np.array(out, np.int64)

    def compute_reduction(self):
        """1 - (product MACs performed) / (product MACs of exact training), over the same samples."""
        exact = sum(self.exact_macs(ph) for ph in PRODUCT_PHASES)
        done = sum(int(self.totals(ph)[0]) for ph in PRODUCT_PHASES)
        return 1.0 - done / exact if exact else 0.0

    # --- time -----------------------------------------------------------------------------
    def phase(self, name):
        """A context manager: time inside the block is charged to `name` (None: not charged)."""
        ph = self._phases.get(name)
        if ph is None:
            ph = self._phases[name] = _Phase(self, name)
        return ph

    def _switch(self, phase):
        """Charge elapsed time to the running phase and start `phase`; returns the previous phase."""
        now = time.perf_counter()
        prev = self._phase
        if prev is not None:
            self.times[prev] += now - self._t
        self._phase, self._t = phase, now
        return prev

    # --- reporting ------------------------------------------------------------------------
    def snapshot(self):
        """A JSON-ready summary: totals per phase and per layer, exact reference, times."""
        phases = {}
        for ph in WORK_PHASES:
            macs, rd, wr = (int(x) for x in self.totals(ph))
            entry = {"macs": macs, "bytes_read": rd, "bytes_written": wr}
            if ph in PRODUCT_PHASES:
                entry["exact_macs"] = self.exact_macs(ph)
            phases[ph] = entry
        layers = []
        for l in range(len(self.sizes) - 1):
            layers.append({ph: [int(x) for x in self.totals(ph, l)] for ph in WORK_PHASES})
        return {"samples": self.samples, "phases": phases, "per_layer": layers,
                "compute_reduction": self.compute_reduction(),
                "seconds": dict(self.times), "counters": dict(self.counters)}

    def state(self):
        """Everything needed to continue accumulating after a resume."""
        return {"samples": self.samples, "times": dict(self.times), "counters": dict(self.counters),
                "work": [[l, ph, *map(int, w)] for (l, ph), w in self.work.items()]}

    def load_state(self, st):
        self.samples = st["samples"]
        self.times.update(st["times"])
        self.counters.update(st["counters"])
        for l, ph, macs, rd, wr in st["work"]:
            self.add(l, ph, macs, rd, wr)

    def delta(self, before):
        """Seconds and product MACs since a `state()` taken earlier (for per-epoch lines)."""
        secs = {k: self.times[k] - before["times"].get(k, 0.0) for k in TIME_PHASES}
        prev = defaultdict(int)
        for l, ph, macs, _, _ in before["work"]:
            prev[ph] += macs
        done = sum(int(self.totals(ph)[0]) - prev[ph] for ph in PRODUCT_PHASES)
        n = self.samples - before["samples"]
        exact = sum(self.exact_macs(ph, samples=n) for ph in PRODUCT_PHASES)
        return secs, (1.0 - done / exact if exact else 0.0)


class _Phase:
    """`with ledger.phase(name):` (a class, not @contextmanager: it runs several times per step)."""
    __slots__ = ("ledger", "name")

    def __init__(self, ledger, name):
        self.ledger, self.name = ledger, name

    def __enter__(self):
        self.ledger._stack.append(self.ledger._switch(self.name))

    def __exit__(self, *exc):
        self.ledger._switch(self.ledger._stack.pop())


def report_lines(snap):
    """The run summary's ledger block, from a `snapshot()` (or summary.json's "ledger"): per work
    phase the multiply-adds done against exact training, bytes moved, and what the phase clock says
    that achieved."""
    secs = snap["seconds"]
    clock = {"forward": secs["forward"], "backward-input": None, "backward-weight": None,
             "update": secs["update"], "overhead": secs["overhead"]}
    lines = [f"ledger over {snap['samples']:,} training samples "
             f"(update: elements updated; overhead: selection work):",
             f"  {'phase':<16}{'multiply-adds':>15}{'of exact':>10}{'read GB':>10}{'written GB':>12}"
             f"{'seconds':>10}"]
    for ph, w in snap["phases"].items():
        exact = w.get("exact_macs")
        share = f"{100 * w['macs'] / exact:.1f}%" if exact else ""
        t = clock.get(ph)
        lines.append(f"  {ph:<16}{w['macs']:>15.4g}{share:>10}{w['bytes_read'] / 1e9:>10.2f}"
                     f"{w['bytes_written'] / 1e9:>12.2f}{'' if t is None else f'{t:.1f}':>10}")
    product_macs = sum(snap["phases"][ph]["macs"] for ph in PRODUCT_PHASES)
    reduction = f"compute reduction {100 * snap['compute_reduction']:.1f}%"
    fused = secs.get("fused", 0.0)
    if fused > 0:
        # the fast path's chunks have no forward/backward boundary a clock could see: the rate is
        # over the whole step time (update and selection included), and says so
        step_secs = fused + sum(secs[ph] for ph in ("forward", "backward", "update", "overhead"))
        rate = 2 * product_macs / step_secs / 1e9
        lines.append(f"  fused (the fast path: selection, forward, backward and update in one "
                     f"compiled call) {fused:.1f} s; products at {rate:.1f} GFLOP/s over the whole "
                     f"step time; {reduction}")
        return lines
    product_secs = secs["forward"] + secs["backward"]
    rate = 2 * product_macs / product_secs / 1e9 if product_secs > 0 else 0.0
    lines.append(f"  backward (input + weight) {secs['backward']:.1f} s; products at {rate:.1f} "
                 f"GFLOP/s; {reduction}")
    return lines
