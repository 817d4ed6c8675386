"""Project rules that code review would otherwise have to remember."""
import importlib
import os
import pkgutil
import re

import kernels
from kernels import _jit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL_DIR = os.path.join(REPO, "kernels")
SUPPORT = {"_jit", "cost", "__init__"}


def kernel_modules():
    return sorted(m.name for m in pkgutil.iter_modules([KERNEL_DIR]) if m.name not in SUPPORT)


def test_kernels_is_this_repository():
    # A PyPI package named `kernels` exists; the import must resolve to ours (DESIGN.md).
    assert os.path.dirname(os.path.abspath(kernels.__file__)) == KERNEL_DIR


def test_jit_options_come_only_from_the_policy_module():
    for name in kernel_modules():
        with open(os.path.join(KERNEL_DIR, name + ".py")) as f:
            src = f.read()
        assert not re.search(r"\bnjit\b|numba\.jit|fastmath\s*=", src), \
            f"kernels/{name}.py sets jit options itself; use kernels._jit.jit"


def test_fastmath_keeps_nan_and_inf():
    assert not {"nnan", "ninf", "fast"} & _jit.FASTMATH


def test_every_kernel_module_registers_a_warmup_and_warmup_runs_them_all():
    times = kernels.warmup()
    for name in kernel_modules():
        mod = importlib.import_module(f"kernels.{name}")
        jitted = [v for v in vars(mod).values() if type(v).__name__ == "CPUDispatcher"
                  and v.__module__ == mod.__name__]
        if jitted:
            assert any(k.startswith(f"kernels.{name}.") for k in times), \
                f"kernels/{name}.py has kernels but no @register_warmup function run by warmup()"
