"""python -m npmlp.train: train an MLP with one of the EDBT paper's methods and write a run folder.

The options are generated from `npmlp.config.Config` (one source of truth); run with --help to see
them. With no flags it trains the paper's network (784-1000-1000-1000-10, ReLU) on MNIST with
mini-batch 20 and Adam for a few epochs.
"""
import argparse
import sys
from dataclasses import MISSING, fields

from .config import METHODS, Config, help_groups, normalize_names, parse_hidden
from .errors import UserError

EXAMPLES = """examples:
  python -m npmlp.train                                   # paper network on MNIST, batch 20, Adam
  python -m npmlp.train --epochs 50                       # the paper's epoch count
  python -m npmlp.train --batch-size 1 --optimizer sgd --lr 1e-3   # stochastic (the paper's _S)
  python -m npmlp.train --dataset synthetic --hidden 2x256 --epochs 3 --plot
  python -m npmlp.train --resume --out runs/NAME          # continue an interrupted run
"""


def _bool(text):
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


USAGE = ("python -m npmlp.train [--method NAME] [--dataset NAME] [--hidden SIZES] [--epochs N] "
         "[--batch-size N] [--out DIR] [--resume] [--plot] [options]")


def build_parser():
    p = argparse.ArgumentParser(prog="python -m npmlp.train", usage=USAGE,
                                description=__doc__.split("\n\n")[0], epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    by_name = {f.name: f for f in fields(Config)}
    for title, names in help_groups():
        group = p.add_argument_group(title)
        for name in names:
            _add_option(group, by_name[name], METHODS)
        if title == "common options":
            group.add_argument("--out", help="run folder (default: runs/<dataset>-<method>-b<batch>-"
                                             "<time>)")
            group.add_argument("--resume", action="store_true",
                               help="continue the run in --out from its checkpoint (bit-identical to "
                                    "an uninterrupted run); only --epochs, --threads, --data-dir and "
                                    "--eval-batch-size may change. A higher --epochs stretches a "
                                    "decaying --lr-schedule over the new length (the rate steps up)")
            group.add_argument("--plot", action="store_true",
                               help="write curves.png and confusion.png")
            group.add_argument("--no-progress", action="store_true",
                               help="no progress bars (logs, CI)")
    return p


def _add_option(group, f, strategies):
    flag = "--" + f.name.replace("_", "-")
    default = f.default if f.default is not MISSING else None
    help_text = f.metadata.get("help", "")
    kw = {"dest": f.name, "default": None}
    if f.name == "hidden":
        kw["type"] = str  # parsed in config_from_args, so a bad value is a UserError message
        shown = ",".join(map(str, default))
    elif f.type is bool or isinstance(default, bool):
        kw["type"] = _bool
        kw["metavar"] = "BOOL"
        shown = default
    else:
        kw["type"] = type(default)
        shown = default
    if f.name == "method":
        help_text += " (" + ", ".join(strategies) + "); DROPOUT, ADAPTIVE-DROPOUT and ALSH-APPROX " \
                     "start at batch 1, the paper's setting, unless --batch-size is given"
    if f.metadata.get("choices"):   # checked in config_from_args, which accepts case and _/- variants
        kw["metavar"] = "{" + ",".join(f.metadata["choices"]) + "}"
    # argparse %-formats help strings: a literal '%' (e.g. "5%") must reach it as '%%'
    group.add_argument(flag, help=f"{help_text} [default: {shown}]".replace("%", "%%"), **kw)


def config_from_args(args):
    from .data import DATASET_NAMES      # NumPy only: still light
    given = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    if "hidden" in given:
        given["hidden"] = parse_hidden(given["hidden"])
    given = normalize_names(given, methods=METHODS, datasets=DATASET_NAMES)
    return Config(**given), given


def main(argv=None):
    stage = {"now": "while starting"}
    try:
        args = build_parser().parse_args(argv)
        cfg, given = config_from_args(args)
        from .runner import run_training
        summary = run_training(cfg, out=args.out, resume=args.resume, plot=args.plot,
                               progress=not args.no_progress, given=given, stage=stage)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"\ninterrupted {stage['now']}; {stage.get('kept', 'nothing was written')}.",
              file=sys.stderr)
        return 130
    return 0 if summary is not None else 130


if __name__ == "__main__":
    sys.exit(main())
