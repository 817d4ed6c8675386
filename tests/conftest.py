import os

import numpy as np
import pytest

# Tests never reach the internet: the official-site download step is skipped.
os.environ.setdefault("NPMLP_OFFLINE", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
