"""The training methods, one strategy class each, behind one registry (`--method NAME`)."""
from ..errors import UserError
from .base import Standard

STRATEGIES = {
    "standard": Standard,
}


def get_strategy(name):
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UserError(f"unknown method {name!r}; valid methods: {', '.join(STRATEGIES)}") from None
