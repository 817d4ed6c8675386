"""The training configuration: one frozen dataclass, the single source of truth.

`npmlp.train` builds its command-line options from these fields (name, type, default and the `help`
metadata), `config.json` in every run folder is `asdict(cfg)`, and `validate()` checks every range so
a bad value is one clear message, not a crash deep in the loop.

Defaults follow the EDBT paper's stated setup (§8.4): ReLU, 3 x 1000 hidden units, log-softmax + NLL,
mini-batch 20, Adam. The paper trains 50 epochs; the default here is fewer so the bare command finishes
in minutes (`--epochs 50` for the paper). Where the authors' code differs from the paper (sigmoid,
N(0, 1) init, lr 1e-4, Adam eps 1e-4, batch 1: notes/reference-implementations.md §1) that is an option.
"""
import difflib
import math
import os
import shutil
import textwrap
from dataclasses import asdict, dataclass, field, fields, replace

from .errors import UserError

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
INITS = ("he", "glorot", "normal", "pytorch")
OPTIMIZERS = ("sgd", "adam", "adagrad")
DTYPES = ("float32", "float64")
VALIDATION_SPLITS = ("first", "random")
LR_SCHEDULES = ("constant", "linear", "cosine")


def _opt(default, help, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class Config:
    # --- data ---
    dataset: str = _opt("mnist", "dataset name (see `python -m npmlp.data info --help`)")
    data_dir: str = _opt("", "folder holding dataset files (default: $NPMLP_DATA, then the cache)")
    validation: str = _opt("first", "validation split: 'first' = first 5,000 training images (the "
                           "authors' code), 'random' = seeded random partition (the paper's text)",
                           choices=VALIDATION_SPLITS)
    standardize: bool = _opt(False, "standardise pixels with the training mean/std instead of [0, 1]")
    limit: int = _opt(0, "use only the first N training samples (0 = all)")
    # --- network ---
    method: str = _opt("standard", "training method (strategy); topk is not in the paper")
    hidden: tuple = _opt((1000, 1000, 1000), "hidden layer sizes, e.g. 1000,1000,1000 or 3x1000")
    activation: str = _opt("relu", "hidden activation", choices=ACTIVATIONS)
    leaky_slope: float = _opt(0.01, "negative slope of leaky_relu (the EDBT ALSH code uses 0.01)")
    init: str = _opt("he", "weight init: he (Kaiming, for ReLU), glorot, normal (N(0, init_std)), "
                     "pytorch (U(+-1/sqrt(fan_in)) for W and b, torch.nn.Linear's default)",
                     choices=INITS)
    init_std: float = _opt(1.0, "standard deviation for --init normal (the EDBT STANDARD code: 1)")
    dtype: str = _opt("float32", "floating-point type for training", choices=DTYPES)
    # --- optimisation ---
    epochs: int = _opt(3, "number of epochs (the paper trains 50)")
    batch_size: int = _opt(20, "mini-batch size; 1 = stochastic (the paper's _S settings)")
    optimizer: str = _opt("adam", "optimiser", choices=OPTIMIZERS)
    lr: float = _opt(1e-3, "learning rate (the paper uses 1e-3, or 1e-4 for some _S settings)")
    lr_schedule: str = _opt("linear", "learning rate over the run: 'constant' (the paper's setting; "
                            "what the experiment suite uses), 'linear' decay from --lr towards 0 "
                            "by the last step, or 'cosine' decay. Linear is the default because "
                            "it ends a short run on a settled model: 1 epoch of the bare command "
                            "reaches 97-98% test accuracy against 95-97% with a constant rate "
                            "(README, 'Accuracy')", choices=LR_SCHEDULES)
    momentum: float = _opt(0.0, "SGD momentum in [0, 1)")
    beta1: float = _opt(0.9, "Adam beta1")
    beta2: float = _opt(0.999, "Adam beta2")
    eps: float = _opt(1e-8, "Adam/Adagrad epsilon (the EDBT code uses 1e-4)")
    optimizer_state: str = _opt("sparse", "for methods that compute a subset of units: 'sparse' "
                                "updates only their rows (lazy state; the paper's sparse updates), "
                                "'dense' updates every row every step (the EDBT code's Adam)",
                                choices=("sparse", "dense"))
    active_batch: str = _opt("auto", "at batch > 1, how DROPOUT, ADAPTIVE-DROPOUT and ALSH-APPROX "
                             "compute each sample's kept units: 'sparse' per sample, 'dense' as "
                             "masked dense products, 'auto' by the kept fraction (the crossover "
                             "measured in bench/bench_active_batch.py)",
                             choices=("auto", "sparse", "dense"))
    # --- DROPOUT (Srivastava et al. 2014; EDBT §5.1) ---
    dropout_keep: float = _opt(0.05, "DROPOUT keep probability p of each hidden unit (EDBT §8.4: 0.05)")
    dropout_scaling: str = _opt("inverted", "'inverted': train r*a/p, evaluate a; 'classic': train "
                                "r*a, evaluate p*a", choices=("inverted", "classic"))
    # --- ADAPTIVE-DROPOUT / standout (Ba & Frey 2013; EDBT §5.1) ---
    standout_alpha: float = _opt(1.0, "standout: keep_j = sigmoid(alpha * z_j + beta)")
    standout_beta: float = _opt(0.0, "standout: beta (the starting value when calibrating)")
    standout_beta_mode: str = _opt("scalar", "'scalar': + beta; 'per_weight': + beta * sum(a) (the "
                                   "gngdb code adds beta to every weight)",
                                   choices=("scalar", "per_weight"))
    standout_target_keep: float = _opt(0.05, "calibrate beta per sample so the mean keep "
                                       "probability is this (EDBT's p = 0.05); 0 = fixed beta")
    # --- ALSH-APPROX (Spring & Shrivastava 2017; EDBT §5.2, Eq. 2-4) ---
    alsh_bits: int = _opt(6, "ALSH: K, bits per hash table (EDBT §8.4: 6)")
    alsh_tables: int = _opt(5, "ALSH: L, hash tables per layer (EDBT §8.4: 5)")
    alsh_m: int = _opt(3, "ALSH: m, coordinates appended by the transform (EDBT Eq. 2: 3)")
    alsh_U: float = _opt(0.83, "ALSH: largest row norm after the global rescale (EDBT code: 0.83)")
    alsh_transform: str = _opt("l2_alsh", "ALSH: P/Q transform (l2_alsh = EDBT Eq. 2; sign_alsh and "
                               "simple_lsh are valid for sign hashing; none = KDD'17 code)",
                               choices=("l2_alsh", "sign_alsh", "simple_lsh", "none"))
    alsh_hash: str = _opt("srp_rademacher", "ALSH: hash family (signed random projections with +-1 "
                          "= EDBT code, Gaussian = KDD'17, sparse, or densified WTA = SLIDE)",
                          choices=("srp_rademacher", "srp_gaussian", "srp_sparse", "dwta"))
    alsh_active: float = _opt(0.05, "ALSH: active fraction; tau = floor(fraction * units) (5%)")
    alsh_select: str = _opt("edbt", "ALSH: selection policy: edbt (union with early stop, bucket cap "
                            "and random fill to tau), topfreq (KDD'17), union, threshold (SLIDE)",
                            choices=("edbt", "topfreq", "union", "threshold"))
    alsh_threshold: int = _opt(2, "ALSH: threshold policy keeps units found in more than this many "
                               "buckets (SLIDE: 2)")
    alsh_rebuild: str = _opt("edbt", "ALSH: rebuild schedule: edbt (every 100 samples for the first "
                             "10,000, then every 1,000, and at epoch end), fixed, kdd, exp_decay, "
                             "drift", choices=("edbt", "fixed", "kdd", "exp_decay", "drift"))
    alsh_rebuild_every: int = _opt(1000, "ALSH: samples between rebuilds (fixed), the first interval "
                                   "(exp_decay), or between drift checks (drift)")
    alsh_rebuild_growth: float = _opt(2.0, "ALSH: exp_decay interval growth factor")
    alsh_drift_threshold: float = _opt(0.1, "ALSH: drift rebuilds when this fraction of signature bits "
                                       "changed (MONGOOSE uses 0.01-0.3)")
    alsh_counter: str = _opt("epoch", "ALSH edbt schedule counter: 'epoch' restarts every epoch "
                             "(EDBT code), 'global' counts over training (paper text)",
                             choices=("epoch", "global"))
    alsh_redraw: bool = _opt(False, "ALSH: draw new hash projections at every rebuild (SLIDE); "
                             "EDBT and KDD'17 keep them")
    alsh_eval: str = _opt("dense", "ALSH evaluation: dense exact (EDBT) or sparse (KDD'17)",
                          choices=("dense", "sparse"))
    alsh_recall_every: int = _opt(500, "ALSH: measure active-set recall of the true top-tau units "
                                  "every N steps (0 = never; not counted in the ledger or timings)")
    # --- MC-APPROX (Adelman et al. 2019/2021; EDBT §6, Eq. 5-7) ---
    mc_mode: str = _opt("backward", "MC-APPROX: sample the backward products only (EDBT) or the "
                        "forward product too ('forward', Adelman 2019)", choices=("backward", "forward"))
    mc_rho_bwd: float = _opt(0.1, "MC: sampling ratio of the input gradient dX = dY W (over units)")
    mc_kmin_bwd: int = _opt(10, "MC: at least this many units for dX (k = min(max(rho n, kmin), n))")
    mc_rho_wu: float = _opt(0.1, "MC: sampling ratio of the weight gradient dW = dY^T X (over the batch)")
    mc_kmin_wu: int = _opt(10, "MC: at least this many samples for dW")
    mc_rho_fwd: float = _opt(0.4, "MC forward mode: sampling ratio of z = X W^T (over inputs)")
    mc_kmin_fwd: int = _opt(10, "MC forward mode: at least this many inputs")
    mc_sampler: str = _opt("bernoulli", "MC: bernoulli (Bernoulli-CRS, Eq. 7), with_replacement "
                           "(Eq. 6), without_replacement, topk (deterministic, unscaled)",
                           choices=("bernoulli", "with_replacement", "without_replacement", "topk"))
    mc_dist: str = _opt("nps", "MC: probabilities proportional to norm products (nps) or uniform",
                        choices=("nps", "uniform"))
    mc_scale: bool = _opt(True, "MC: scale kept pairs to make the estimate unbiased")
    mc_mix_eps: float = _opt(0.0, "MC: mix probabilities with uniform, p <- (1-eps) p + eps/n (the "
                             "reference code uses 0.1)")
    mc_exact_k: bool = _opt(False, "MC: Bernoulli keeps exactly k pairs in expectation (redistributes "
                            "the clipped probability mass); off = Eq. 7 as printed")
    # --- TOPK (not in the paper: exact top-k active sets; strategies/topk.py) ---
    topk_active: float = _opt(0.05, "TOPK: kept fraction of each hidden layer's units; k = "
                              "max(floor(fraction * units), 1) (5%, ALSH's budget)")
    topk_eval: str = _opt("sparse", "TOPK evaluation: sparse (the same top-k rule as training, "
                          "part of the network's definition) or dense (every unit)",
                          choices=("sparse", "dense"))
    # --- run ---
    seed: int = _opt(0, "seed of the one random generator behind every random choice")
    threads: int = _opt(1, "BLAS and Numba threads (results are bit-identical per seed and thread count)")
    eval_batch_size: int = _opt(1000, "batch size for exact evaluation (no effect on results)")
    fast_path: str = _opt("auto", "'auto': run batch-1 steps as fused compiled chunks where the "
                          "method has them (STANDARD, DROPOUT, ALSH-APPROX; npmlp/fastpath.py), "
                          "tested equal to the readable reference; 'off': always the reference "
                          "path", choices=("auto", "off"))
    hogwild: int = _opt(0, "HOGWILD (Recht et al. 2011): run the batch-1 fast path of STANDARD or "
                        "DROPOUT on N threads that share the weights and optimiser state without "
                        "locks, each on its share of the samples (npmlp/hogwild.py). NOT "
                        "bit-reproducible: the threads' updates race, so runs with the same seed "
                        "differ. Measured no faster than 1 thread on this busy 2-core machine "
                        "(bench/README.md, 'HOGWILD'); 0 = off")

    def to_json(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_json(cls, d):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"config has unknown keys {unknown}; valid keys: {sorted(known)}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)

    def with_(self, **changes):
        return replace(self, **changes)

    def relevant(self):
        """{field: value} without the options of methods other than cfg.method (for printing)."""
        own = METHOD_PREFIXES.get(self.method)
        others = tuple(p for p in METHOD_PREFIXES.values() if p != own)
        return {k: v for k, v in self.to_json().items() if not k.startswith(others)}


# The training methods, in the order of the strategy registry (npmlp/strategies/__init__.py:
# STRATEGIES; a test keeps the two equal). Listed here so that parsing and checking a command line
# imports no NumPy, SciPy or Numba: `python -m npmlp.train` prints its config line before those load.
METHODS = ("standard", "dropout", "adaptive-dropout", "alsh-approx", "mc-approx", "topk")

# Each method's options share a prefix; `--help` shows them as one group per method.
METHOD_PREFIXES = {"dropout": "dropout_", "adaptive-dropout": "standout_",
                   "alsh-approx": "alsh_", "mc-approx": "mc_", "topk": "topk_"}
# What most users change: the first group of `--help`.
COMMON = ("method", "dataset", "hidden", "epochs", "batch_size", "optimizer", "lr", "seed", "threads")
# The remaining options in groups, by the field that opens each section of Config (in field order).
SECTIONS = {"dataset": "data", "method": "network", "epochs": "optimisation", "seed": "run"}


def help_groups():
    """[(title, [field names])] in the order `--help` shows them: common, then sections, then methods."""
    groups = {"common options": list(COMMON)}
    section = None
    for f in fields(Config):
        section = SECTIONS.get(f.name, section)
        method = next((m for m, p in METHOD_PREFIXES.items() if f.name.startswith(p)), None)
        title = f"{method.upper()} (--method {method})" if method else section + " options"
        if f.name not in COMMON:
            groups.setdefault(title, []).append(f.name)
    return list(groups.items())


def _norm(name):
    return str(name).lower().replace("_", "-")


def pick(what, value, valid, flag=None):
    """`value` if it names one of `valid` up to case and '_'/'-'; else a UserError that lists the
    valid names and suggests the closest one. `flag`: word the message as an invalid option value."""
    matches = [v for v in valid if _norm(v) == _norm(value)]
    if len(matches) == 1:
        return matches[0]
    close = difflib.get_close_matches(_norm(value), [_norm(v) for v in valid], n=1, cutoff=0.6)
    hint = f". Did you mean {next(v for v in valid if _norm(v) == close[0])!r}?" if close else ""
    if flag:
        raise UserError(f"{flag} {value!r} is invalid: expected one of {', '.join(valid)}{hint}")
    raise UserError(f"unknown {what} {value!r}; valid {what}s: {', '.join(valid)}{hint}")


def normalize_names(given, methods=(), datasets=()):
    """Map --method, --dataset and every choice option in `given` to its canonical spelling."""
    out = dict(given)
    if methods and "method" in out:
        out["method"] = pick("method", out["method"], tuple(methods))
    if datasets and "dataset" in out:
        out["dataset"] = pick("dataset", out["dataset"], tuple(datasets))
    for f in fields(Config):
        choices = f.metadata.get("choices")
        if choices and f.name in out:
            out[f.name] = pick(f.name, out[f.name], choices, flag="--" + f.name.replace("_", "-"))
    return out


def hidden_text(hidden):
    """(1000, 1000, 1000) -> '3x1000'; (500, 500, 100) -> '2x500,100' (what --hidden accepts)."""
    parts, i = [], 0
    while i < len(hidden):
        j = i
        while j < len(hidden) and hidden[j] == hidden[i]:
            j += 1
        parts.append(f"{j - i}x{hidden[i]}" if j - i > 1 else str(hidden[i]))
        i = j
    text = ",".join(parts)
    return text if len(text) <= 60 else text[:57] + "..."


def terminal_width():
    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 160))


def wrap(text, width=None):
    """`text` as lines no wider than the terminal (continuations indented)."""
    return textwrap.wrap(text, width=width or terminal_width(), subsequent_indent="  ",
                         break_long_words=True, break_on_hyphens=False)


def config_lines(cfg, notes=None, width=None):
    """The resolved config as lines no wider than the terminal; `notes` = {field: why}."""
    notes = notes or {}
    words = []
    for k, v in cfg.relevant().items():
        v = hidden_text(v) if k == "hidden" else str(v)
        v = v if len(v) <= 60 else v[:57] + "..."
        words.append(f"{k}={v}" + (f" ({notes[k]})" if k in notes else ""))
    return wrap("npmlp config: " + "  ".join(words), width)


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve(cfg, given=None):
    """Fill in what the user left to us; returns (cfg, {field: why}, [lines to print]).

    `given` names the options the user set (None: the config is complete, e.g. built by the experiment
    suite or read from a checkpoint). A method whose paper setting differs from the common default starts
    there (npmlp/expectations.py); --threads is capped at the cores this process may use."""
    from .expectations import paper_batch
    notes, lines = {}, []
    batch = paper_batch(cfg.method)
    if given is not None and "batch_size" not in given and batch and batch != cfg.batch_size:
        cfg = cfg.with_(batch_size=batch)
        notes["batch_size"] = "the paper's setting for this method; --batch-size N to change"
    cores = available_cores()
    if cfg.threads > cores:
        lines.append(f"--threads {cfg.threads}: this process may use {cores} core(s); using "
                     f"{cores} (more threads than cores only wait for each other).")
        cfg = cfg.with_(threads=cores)
    return cfg, notes, lines


OPTIMIZER_STATES = {"sgd": lambda c: 1 if c.momentum > 0 else 0, "adam": lambda c: 2,
                    "adagrad": lambda c: 1}


def memory_estimate(cfg, d_in, n_classes):
    """Bytes for parameters, optimiser state, one gradient per parameter and the widest evaluation
    batch: a lower bound on what training allocates (data comes on top)."""
    sizes = (d_in, *cfg.hidden, n_classes)
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    itemsize = 8 if cfg.dtype == "float64" else 4
    copies = 2 + OPTIMIZER_STATES[cfg.optimizer](cfg)       # parameters + gradient + state
    activations = 2 * max(cfg.batch_size, cfg.eval_batch_size) * max(sizes)
    return (copies * n_params + activations) * itemsize


def available_memory():
    """Bytes the OS says a new allocation can get (MemAvailable), or None where it does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg, d_in, n_classes):
    need, have = memory_estimate(cfg, d_in, n_classes), available_memory()
    if have is not None and need > have:
        raise UserError(f"--hidden {hidden_text(cfg.hidden)} with {cfg.optimizer} needs at least "
                        f"{need / 2**30:.1f} GiB (parameters, optimiser state, gradients) but "
                        f"{have / 2**30:.1f} GiB is available; choose smaller layers.")
    return need


def parse_hidden(text):
    """'1000,1000,1000', '3x1000' or '2x500,100' -> (1000, 1000, 1000) etc."""
    sizes = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        count, _, size = part.rpartition("x")
        try:
            n = int(count) if count else 1
            sizes.extend([int(size)] * n)
        except ValueError:
            raise UserError(f"--hidden {text!r}: expected sizes like '1000,1000,1000' or '3x1000'")
    return tuple(sizes)


def _check(ok, name, value, expected):
    if not ok:
        raise UserError(f"--{name.replace('_', '-')} {value!r} is invalid: expected {expected}")


def _check_hogwild(cfg):
    """--hogwild N: batch-1 STANDARD or DROPOUT on the fast path, N within the cores."""
    if cfg.hogwild == 0:
        return
    _check(cfg.hogwild >= 0, "hogwild", cfg.hogwild, "an integer >= 0 (0 = off)")
    what = f"--hogwild {cfg.hogwild} runs the batch-1 fast path on {cfg.hogwild} threads"
    if cfg.method not in ("standard", "dropout"):
        raise UserError(f"{what}; it supports --method standard and dropout only (not "
                        f"{cfg.method}). Drop --hogwild.")
    if cfg.batch_size != 1:
        raise UserError(f"{what}; it needs --batch-size 1 (got {cfg.batch_size}).")
    if cfg.fast_path == "off":
        raise UserError(f"{what}; it cannot run with --fast-path off. Drop one of them.")
    if cfg.activation != "relu":
        raise UserError(f"{what}; the fast path implements ReLU only (got --activation "
                        f"{cfg.activation}).")
    cores = available_cores()
    if cfg.hogwild > cores:
        raise UserError(f"{what}, but this process may use {cores} core(s); threads that "
                        f"outnumber cores only wait for each other. Use --hogwild {cores} or less.")


def validate(cfg, methods=()):
    """Raise UserError for any out-of-range value; `methods` lists the valid strategy names."""
    if methods and cfg.method not in methods:
        pick("method", cfg.method, tuple(methods))
    for f in fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if isinstance(value, float):   # no float option gives NaN or inf a meaning
            _check(math.isfinite(value), f.name, value, "a finite number")
        if choices:
            _check(value in choices, f.name, value, "one of " + ", ".join(choices))
    _check(len(cfg.hidden) > 0 and all(isinstance(h, int) and h > 0 for h in cfg.hidden),
           "hidden", cfg.hidden, "at least one positive layer size, e.g. 1000,1000,1000")
    _check(cfg.epochs >= 1, "epochs", cfg.epochs, "an integer >= 1")
    _check(cfg.batch_size >= 1, "batch_size", cfg.batch_size, "an integer >= 1")
    _check(cfg.eval_batch_size >= 1, "eval_batch_size", cfg.eval_batch_size, "an integer >= 1")
    _check(cfg.lr > 0, "lr", cfg.lr, "a positive number such as 1e-3")
    _check(0 <= cfg.momentum < 1, "momentum", cfg.momentum, "a number in [0, 1)")
    _check(0 <= cfg.beta1 < 1, "beta1", cfg.beta1, "a number in [0, 1)")
    _check(0 <= cfg.beta2 < 1, "beta2", cfg.beta2, "a number in [0, 1)")
    _check(cfg.eps > 0, "eps", cfg.eps, "a positive number such as 1e-8")
    _check(cfg.init_std > 0, "init_std", cfg.init_std, "a positive number")
    _check(cfg.leaky_slope >= 0, "leaky_slope", cfg.leaky_slope, "a number >= 0")
    _check(cfg.threads >= 1, "threads", cfg.threads, "an integer >= 1")
    _check_hogwild(cfg)
    _check(cfg.limit >= 0, "limit", cfg.limit, "an integer >= 0 (0 = all)")
    _check(0 < cfg.dropout_keep <= 1, "dropout_keep", cfg.dropout_keep, "a probability in (0, 1]")
    _check(1 <= cfg.alsh_bits <= 30, "alsh_bits", cfg.alsh_bits, "an integer in 1..30")
    _check(cfg.alsh_tables >= 1, "alsh_tables", cfg.alsh_tables, "an integer >= 1")
    _check(1 <= cfg.alsh_m <= 8, "alsh_m", cfg.alsh_m, "an integer in 1..8")
    _check(0 < cfg.alsh_U <= 1, "alsh_U", cfg.alsh_U, "a number in (0, 1]")
    _check(0 < cfg.alsh_active <= 1, "alsh_active", cfg.alsh_active, "a fraction in (0, 1]")
    _check(cfg.alsh_rebuild_every >= 1, "alsh_rebuild_every", cfg.alsh_rebuild_every, "an integer >= 1")
    _check(cfg.alsh_rebuild_growth >= 1, "alsh_rebuild_growth", cfg.alsh_rebuild_growth, "a number >= 1")
    _check(0 <= cfg.alsh_drift_threshold <= 1, "alsh_drift_threshold", cfg.alsh_drift_threshold,
           "a fraction in [0, 1]")
    _check(cfg.alsh_recall_every >= 0, "alsh_recall_every", cfg.alsh_recall_every, "an integer >= 0")
    _check(0 < cfg.topk_active <= 1, "topk_active", cfg.topk_active, "a fraction in (0, 1]")
    _check(not (cfg.method == "topk" and cfg.optimizer_state == "dense"), "optimizer_state",
           cfg.optimizer_state, "sparse with --method topk (it updates only the kept block)")
    for name in ("mc_rho_bwd", "mc_rho_wu", "mc_rho_fwd"):
        _check(0 < getattr(cfg, name) <= 1, name, getattr(cfg, name), "a ratio in (0, 1]")
    for name in ("mc_kmin_bwd", "mc_kmin_wu", "mc_kmin_fwd"):
        _check(getattr(cfg, name) >= 1, name, getattr(cfg, name), "an integer >= 1")
    _check(0 <= cfg.mc_mix_eps <= 1, "mc_mix_eps", cfg.mc_mix_eps, "a number in [0, 1]")
    _check(not (cfg.mc_exact_k and cfg.mc_sampler != "bernoulli"), "mc_exact_k", cfg.mc_exact_k,
           "false unless --mc-sampler bernoulli")
    _check(0 <= cfg.standout_target_keep < 1, "standout_target_keep", cfg.standout_target_keep,
           "a probability in [0, 1) (0 = no calibration)")
    return cfg
