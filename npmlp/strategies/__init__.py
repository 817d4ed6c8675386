"""The training methods, one strategy class each, behind one registry (`--method NAME`)."""
from ..errors import UserError
from .adaptive_dropout import AdaptiveDropout
from .alsh import AlshApprox
from .base import Standard
from .dropout import Dropout
from .mc import McApprox
from .topk import Topk

STRATEGIES = {
    "standard": Standard,
    "dropout": Dropout,
    "adaptive-dropout": AdaptiveDropout,
    "alsh-approx": AlshApprox,
    "mc-approx": McApprox,
    "topk": Topk,   # not in the paper
}


def get_strategy(name):
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UserError(f"unknown method {name!r}; valid methods: {', '.join(STRATEGIES)}") from None
