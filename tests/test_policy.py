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


def test_a_cache_index_naming_a_moved_type_is_recompiled_not_raised(tmp_path):
    """A kernel whose cached index names a type that has since moved (here: builtins.no_such_type)
    recompiles in the next process instead of raising AttributeError (numba#10434)."""
    import subprocess
    import sys

    import numba
    (tmp_path / "cached_mod.py").write_text(
        "from kernels._jit import jit\n\n\n@jit\ndef plus_one(x):\n    return x + 1\n")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), repo])}
    call = [sys.executable, "-c", "import cached_mod; print(cached_mod.plus_one(1))"]
    assert subprocess.run(call, env=env, capture_output=True, text=True).stdout.strip() == "2"
    (index,) = (tmp_path / "__pycache__").glob("cached_mod.plus_one-*.nbi")
    import pickle
    index.write_bytes(pickle.dumps(numba.__version__) + b"cbuiltins\nno_such_type\n.")
    proc = subprocess.run(call, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "2", proc.stderr
