"""python -m npmlp.train: train an MLP with one of the EDBT paper's methods and write a run folder.

The options are generated from `npmlp.config.Config` (one source of truth); run with --help to see
them. With no flags it trains the paper's network (784-1000-1000-1000-10, ReLU) on MNIST with
mini-batch 20 and Adam for a few epochs.
"""
import argparse
import sys
from dataclasses import MISSING, fields

from .config import Config, parse_hidden
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


def build_parser():
    from .strategies import STRATEGIES
    p = argparse.ArgumentParser(prog="python -m npmlp.train", description=__doc__.split("\n\n")[0],
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(Config):
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
            help_text += " (" + ", ".join(STRATEGIES) + ")"
        if f.metadata.get("choices"):
            kw["choices"] = f.metadata["choices"]
        # argparse %-formats help strings: a literal '%' (e.g. "5%") must reach it as '%%'
        p.add_argument(flag, help=f"{help_text} [default: {shown}]".replace("%", "%%"), **kw)
    p.add_argument("--out", help="run folder (default: runs/<dataset>-<method>-b<batch>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (bit-identical to an "
                        "uninterrupted run); --epochs may raise the target, which stretches a "
                        "decaying --lr-schedule over the new length (the rate steps up)")
    p.add_argument("--plot", action="store_true", help="write curves.png and confusion.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    return p


def config_from_args(args):
    given = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    if "hidden" in given:
        given["hidden"] = parse_hidden(given["hidden"])
    return Config(**given), given


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        cfg, _ = config_from_args(args)
        from .runner import run_training
        summary = run_training(cfg, out=args.out, resume=args.resume, plot=args.plot,
                               progress=not args.no_progress)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0 if summary is not None else 130


if __name__ == "__main__":
    sys.exit(main())
