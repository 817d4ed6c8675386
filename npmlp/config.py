"""The training configuration: one frozen dataclass, the single source of truth.

`npmlp.train` builds its command-line options from these fields (name, type, default and the `help`
metadata), `config.json` in every run folder is `asdict(cfg)`, and `validate()` checks every range so
a bad value is one clear message, not a crash deep in the loop.

Defaults follow the EDBT paper's stated setup (§8.4): ReLU, 3 x 1000 hidden units, log-softmax + NLL,
mini-batch 20, Adam. The paper trains 50 epochs; the default here is fewer so the bare command finishes
in minutes (`--epochs 50` for the paper). Where the authors' code differs from the paper (sigmoid,
N(0, 1) init, lr 1e-4, Adam eps 1e-4, batch 1: notes/reference-implementations.md §1) that is an option.
"""
from dataclasses import asdict, dataclass, field, fields, replace

from .errors import UserError

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
INITS = ("he", "glorot", "normal")
OPTIMIZERS = ("sgd", "adam", "adagrad")
DTYPES = ("float32", "float64")
VALIDATION_SPLITS = ("first", "random")


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
    method: str = _opt("standard", "training method (strategy)")
    hidden: tuple = _opt((1000, 1000, 1000), "hidden layer sizes, e.g. 1000,1000,1000 or 3x1000")
    activation: str = _opt("relu", "hidden activation", choices=ACTIVATIONS)
    leaky_slope: float = _opt(0.01, "negative slope of leaky_relu (the EDBT ALSH code uses 0.01)")
    init: str = _opt("he", "weight init: he (Kaiming, for ReLU), glorot, normal (N(0, init_std))",
                     choices=INITS)
    init_std: float = _opt(1.0, "standard deviation for --init normal (the EDBT STANDARD code: 1)")
    dtype: str = _opt("float32", "floating-point type for training", choices=DTYPES)
    # --- optimisation ---
    epochs: int = _opt(2, "number of epochs (the paper trains 50)")
    batch_size: int = _opt(20, "mini-batch size; 1 = stochastic (the paper's _S settings)")
    optimizer: str = _opt("adam", "optimiser", choices=OPTIMIZERS)
    lr: float = _opt(1e-3, "learning rate (the paper uses 1e-3, or 1e-4 for some _S settings)")
    momentum: float = _opt(0.0, "SGD momentum in [0, 1)")
    beta1: float = _opt(0.9, "Adam beta1")
    beta2: float = _opt(0.999, "Adam beta2")
    eps: float = _opt(1e-8, "Adam/Adagrad epsilon (the EDBT code uses 1e-4)")
    optimizer_state: str = _opt("sparse", "for methods that compute a subset of units: 'sparse' "
                                "updates only their rows (lazy state; the paper's sparse updates), "
                                "'dense' updates every row every step (the EDBT code's Adam)",
                                choices=("sparse", "dense"))
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
    # --- run ---
    seed: int = _opt(0, "seed of the one random generator behind every random choice")
    threads: int = _opt(1, "BLAS and Numba threads (results are bit-identical per seed and thread count)")
    eval_batch_size: int = _opt(1000, "batch size for exact evaluation (no effect on results)")

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


def validate(cfg, methods=()):
    """Raise UserError for any out-of-range value; `methods` lists the valid strategy names."""
    if methods and cfg.method not in methods:
        raise UserError(f"unknown method {cfg.method!r}; valid methods: {', '.join(methods)}")
    for f in fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
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
    _check(cfg.limit >= 0, "limit", cfg.limit, "an integer >= 0 (0 = all)")
    _check(0 < cfg.dropout_keep <= 1, "dropout_keep", cfg.dropout_keep, "a probability in (0, 1]")
    _check(0 <= cfg.standout_target_keep < 1, "standout_target_keep", cfg.standout_target_keep,
           "a probability in [0, 1) (0 = no calibration)")
    return cfg
