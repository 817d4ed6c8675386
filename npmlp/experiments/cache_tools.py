"""Cache counts of a bounded number of training steps: hardware counters (`perf stat`) where the kernel
exposes them, else a simulation (`valgrind --tool=cachegrind`).

Both count the whole process, start-up included, so a profile is the difference of two runs of the
probe (probe.py, mode "steps") that differ only in their step count: counts(n2) - counts(n1) are the
counts of steps n1+1..n2 (the start-up, the data, the kernels' first loading cancel out).

Cachegrind simulates an L1 data cache and a last-level cache with the geometry read from
/sys/devices/system/cpu/cpu0/cache (this machine: 32 KiB 8-way L1d, 32 MiB 16-way L3, 64-byte lines).
Valgrind does not execute AVX-512, so under it OpenBLAS picks its AVX2 kernels and Numba's kernels are
compiled for a generic x86-64 CPU (NUMBA_CPU_NAME=generic, compiled natively first so the simulated
run loads them from Numba's cache instead of compiling under the simulator): the simulated code is
not bit-for-bit the code a native run executes, which the report states.

The difference is only as good as the two start-ups are alike: both run with PYTHONHASHSEED=0,
one-thread pools and address randomisation off (setarch -R). Measured on this project's shared,
busy checkout (a 256-wide DROPOUT_S, 2 vs 12 steps, three repeats): start-ups of ~4.0 G instructions
still differed by up to ~20 M (other processes rewriting Numba's cache and .pyc files between the two
runs), so those small steps read 1.0-2.4 M instructions each. Hence the profiles take tens of steps
of the 1000-wide network, whose steps dominate; a negative difference is reported as "< noise".
(Counting only inside the steps with callgrind's --toggle-collect/--zero-before on a libc marker
called through ctypes was tried: valgrind did not resolve the marker's name here.)
"""
import os
import shutil
import subprocess
import sys

# cachegrind's events -> what we report
CG_EVENTS = ("Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw")
PERF_EVENTS = ("instructions", "cache-references", "cache-misses", "L1-dcache-loads",
               "L1-dcache-load-misses")
GENERIC_NUMBA = {"NUMBA_CPU_NAME": "generic"}
ONE_THREAD = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                               "NUMBA_NUM_THREADS")}
SYS_CACHE = "/sys/devices/system/cpu/cpu0/cache"


def perf_available():
    """(True, '') if `perf stat` reads hardware cache counters here, else (False, why not)."""
    if shutil.which("perf") is None:
        return False, "perf is not installed"
    try:
        proc = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "--", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"perf stat failed to start ({e})"
    counts = parse_perf(proc.stderr)
    if proc.returncode != 0 or len(counts) < len(PERF_EVENTS):
        return False, "perf stat cannot read the cache counters on this machine (<not supported>)"
    return True, ""


def choose_tool():
    """('perf' | 'cachegrind' | None, reason when None or why not perf)."""
    ok, why = perf_available()
    if ok:
        return "perf", ""
    if shutil.which("valgrind") is None:
        return None, (f"{why}, and valgrind is not installed (apt-get install valgrind, or install "
                      f"perf with working hardware counters)")
    return "cachegrind", why


def parse_perf(text):
    """perf stat -x, output -> {event: count}; unsupported or uncounted events are left out."""
    counts = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and parts[2] in PERF_EVENTS and parts[0].strip().isdigit():
            counts[parts[2]] = int(parts[0])
    return counts


def parse_cachegrind(text):
    """A cachegrind.out file's 'events:' and 'summary:' lines -> {event: count}."""
    events = summary = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            summary = [int(x) for x in line.split()[1:]]
    if events is None or summary is None:
        raise ValueError("not a cachegrind output file (no events/summary lines)")
    return dict(zip(events, summary))


def cache_geometry(root=SYS_CACHE):
    """{'D1': (size, assoc, line), 'I1': ..., 'LL': ...} from sysfs; {} if unreadable."""
    out, levels = {}, []
    try:
        for name in sorted(os.listdir(root)):
            d = os.path.join(root, name)

            def read(f):
                with open(os.path.join(d, f)) as fh:
                    return fh.read().strip()
            size = read("size")
            size = int(size[:-1]) * 1024 if size.endswith("K") else int(size)
            geo = (size, int(read("ways_of_associativity")), int(read("coherency_line_size")))
            level, kind = int(read("level")), read("type")
            if level == 1:
                out["D1" if kind == "Data" else "I1"] = geo
            levels.append((level, geo))
    except (OSError, ValueError):
        return {}
    if levels:
        out["LL"] = max(levels)[1]
    return {k: g for k, g in out.items() if _valid(g)}


def _valid(geo):
    size, assoc, line = geo
    sets = size // max(assoc * line, 1)
    return sets > 0 and sets & (sets - 1) == 0 and size == sets * assoc * line


def _env():
    # The two runs' start-ups must execute the same instructions to cancel: PYTHONHASHSEED fixes set
    # and dict orders, and one-thread pools leave no idle BLAS thread spinning for a varying while
    # (the experiments train with one thread anyway, Config.threads = 1).
    env = dict(os.environ, PYTHONHASHSEED="0", **GENERIC_NUMBA, **ONE_THREAD)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH")) if p)
    return env


def _no_aslr():
    """`setarch <arch> -R`: the same addresses in both runs, so start-up misses cancel exactly
    (with address randomisation the two start-ups differ by thousands of misses)."""
    if shutil.which("setarch") is None:
        return []
    arch = os.uname().machine
    ok = subprocess.run(["setarch", arch, "-R", "true"], capture_output=True).returncode == 0
    return ["setarch", arch, "-R"] if ok else []


def probe_command(mode, config_path, out_path, steps=0):
    return [sys.executable, "-m", "npmlp.experiments.probe", mode, "--config", config_path,
            "--steps", str(steps), "--out", out_path]


def run_counted(tool, config_path, steps, folder, tag):
    """Counts of one probe run of `steps` steps under `tool`; returns (counts, probe JSON path)."""
    out_json = os.path.join(folder, f"probe-{tag}.json")
    cmd = probe_command("steps", config_path, out_json, steps)
    if tool == "cachegrind":
        cg_out = os.path.join(folder, f"cachegrind-{tag}.out")
        geo = cache_geometry()
        opts = [f"--{k}={','.join(map(str, g))}" for k, g in geo.items()]
        full = [*_no_aslr(), "valgrind", "--tool=cachegrind", "--cache-sim=yes", *opts,
                f"--cachegrind-out-file={cg_out}", *cmd]
    else:
        full = [*_no_aslr(), "perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "--", *cmd]
    proc = subprocess.run(full, capture_output=True, text=True, env=_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{full[0]} run of {steps} steps failed:\n{proc.stderr[-2000:]}")
    if tool == "cachegrind":
        with open(cg_out) as f:
            return parse_cachegrind(f.read()), out_json
    return parse_perf(proc.stderr), out_json


def compile_natively(config_path, steps, folder):
    """Fill Numba's cache for the generic CPU by running the probe once without the simulator."""
    out = os.path.join(folder, "probe-native.json")
    proc = subprocess.run(probe_command("steps", config_path, out, steps), capture_output=True,
                          text=True,
                          env=_env())
    if proc.returncode != 0:
        raise RuntimeError(f"native probe run failed:\n{proc.stderr[-2000:]}")


def difference(long, short, steps):
    """Per-step counts of the steps the long run took beyond the short one."""
    return {k: (long[k] - short.get(k, 0)) / steps for k in long}


def rates(per_step, tool):
    """Miss rates from per-step counts (cachegrind: data accesses; perf: its generic events)."""
    if tool == "cachegrind":
        refs = per_step["Dr"] + per_step["Dw"]
        d1 = per_step["D1mr"] + per_step["D1mw"]
        ll = per_step["DLmr"] + per_step["DLmw"]
        return {"instructions": per_step["Ir"], "data_refs": refs, "d1_misses": d1, "ll_misses": ll,
                "d1_miss_rate": d1 / refs if refs else None, "ll_miss_rate": ll / refs if refs else None}
    loads = per_step.get("L1-dcache-loads", 0)
    refs = per_step.get("cache-references", 0)
    return {"instructions": per_step.get("instructions"), "data_refs": loads,
            "d1_misses": per_step.get("L1-dcache-load-misses"), "ll_misses": per_step.get("cache-misses"),
            "d1_miss_rate": per_step.get("L1-dcache-load-misses", 0) / loads if loads else None,
            "ll_miss_rate": per_step.get("cache-misses", 0) / refs if refs else None}
