"""How big each experiment's grid is: the `--profile` settings.

    paper   the EDBT paper's settings (§8.4): 3 x 1000 hidden units (1-7 hidden layers in the depth
            sweeps), 50 epochs, full training sets, every dataset present. Days of CPU time on one
            machine; meant for a Dask cluster (`--scheduler`).
    quick   the same network width, but few epochs on a 5,000-sample training subset and four depths:
            each experiment runs in minutes on a 2-core machine.
    short   quick, but on the whole training split (55,000 MNIST images) and depths 1, 3, 5: table2
            takes about half an hour on 2 cores, a depth sweep hours (the batch-1 methods dominate).
    test    tiny networks on the synthetic dataset, one or two epochs: every experiment end to end in
            seconds (the test suite and CI run this).

Timing runs (Tables 3-4, Figs. 8, 11-12) are short and repeated, separate from the accuracy runs: a
time per epoch needs few epochs, but it needs a quiet machine, so the sweep runs them one at a time.
Validation (5,000) and test (10,000) sets stay whole in every profile; `limit` cuts training only.
"""
from typing import NamedTuple

from ..errors import UserError

REAL_DATASETS = ("mnist", "kmnist", "fashion-mnist", "emnist-letters", "smallnorb", "cifar10")
MEMORY_VARIANTS = ("standard_S", "dropout_S", "adaptive-dropout_S", "alsh-approx_S", "standard_M",
                   "mc-approx_M")


class Profile(NamedTuple):
    name: str
    width: int                 # hidden units per layer (paper: 1000)
    depths: tuple              # hidden-layer counts of the depth sweeps (paper: 1..7)
    epochs: int                # accuracy runs
    limit: int                 # training samples (0 = the whole training split)
    datasets: tuple            # default datasets of the depth / timing / memory experiments
    table_datasets: tuple      # default datasets of table2 (the paper: all six)
    timing_epochs: int         # epochs of each timing run
    timing_limit: int          # training samples of each timing run (0 = all)
    repeats: int               # timing repeats (mean +- std)
    batch_sizes: tuple         # MC-APPROX batch-size sweep (Figs. 10-11)
    error_samples: int         # test inputs pushed through the sampled and exact forward
    memory_variants: tuple      # methods whose memory and cache behaviour is profiled
    memory_epochs: int
    memory_limit: int
    cache_steps: tuple         # (n1, n2): cachegrind counts of n2 steps minus those of n1 steps
    cache_limit: int
    cache_enabled: bool        # False: the cache profile is skipped, with the reason in the report
    crs_draws: int             # random 100 x 100 products per point of the CRS error curves


PROFILES = {
    "paper": Profile(
        "paper", width=1000, depths=(1, 2, 3, 4, 5, 6, 7), epochs=50, limit=0,
        datasets=("mnist",), table_datasets=REAL_DATASETS,
        timing_epochs=3, timing_limit=0, repeats=3,
        batch_sizes=(1, 2, 4, 8, 16, 20, 32, 64, 128),
        error_samples=1000,
        memory_variants=MEMORY_VARIANTS, memory_epochs=50, memory_limit=0,
        cache_steps=(20, 120), cache_limit=2000,
        cache_enabled=True, crs_draws=1000),
    "quick": Profile(
        "quick", width=1000, depths=(1, 3, 5, 7), epochs=2, limit=5000,
        datasets=("mnist",), table_datasets=("mnist", "fashion-mnist"),
        timing_epochs=2, timing_limit=2000, repeats=2,
        batch_sizes=(1, 4, 20, 128),
        error_samples=200,
        memory_variants=MEMORY_VARIANTS, memory_epochs=2, memory_limit=2000,
        cache_steps=(5, 85), cache_limit=2000,
        cache_enabled=True, crs_draws=200),
    "test": Profile(
        "test", width=24, depths=(1, 2), epochs=2, limit=200,
        datasets=("synthetic",), table_datasets=("synthetic",),
        timing_epochs=1, timing_limit=100, repeats=2,
        batch_sizes=(1, 20),
        error_samples=50,
        memory_variants=("alsh-approx_S",), memory_epochs=1, memory_limit=100,
        cache_steps=(1, 3), cache_limit=100,
        cache_enabled=False, crs_draws=3),
}


PROFILES["short"] = PROFILES["quick"]._replace(name="short", depths=(1, 3, 5), limit=0)


def get_profile(name):
    try:
        return PROFILES[name]
    except KeyError:
        raise UserError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}") from None
