"""The ledger counts exactly the products of exact training, and the phase clock adds up."""
import time

import pytest

from npmlp import engine
from npmlp.config import Config
from npmlp.ledger import Ledger, report_lines
from npmlp.runner import build_state


@pytest.mark.parametrize("n", [1, 3])
def test_exact_step_records_every_product(blobs, n):
    cfg = Config(hidden=(7, 6), dtype="float64")
    ts = build_state(cfg, blobs)
    engine.train_step(ts, blobs.train.X[:n], blobs.train.y[:n])
    sizes = [20, 7, 6, 4]
    per_layer = [sizes[i] * sizes[i + 1] for i in range(3)]
    snap = ts.ledger.snapshot()["phases"]
    assert snap["forward"]["macs"] == n * sum(per_layer) == snap["forward"]["exact_macs"]
    assert snap["backward-input"]["macs"] == n * sum(per_layer[1:])  # layer 1 needs no input grad
    assert snap["backward-weight"]["macs"] == n * sum(per_layer)
    assert snap["update"]["macs"] == sum(per_layer)                   # every weight visited once
    # forward of layer 1 reads x (n x 20) and W (7 x 20) in float64, writes z (n x 7)
    assert ts.ledger.totals("forward", 0)[1:].tolist() == [8 * (n * 20 + 7 * 20), 8 * n * 7]
    assert ts.ledger.compute_reduction() == 0.0


def test_compute_reduction_is_saved_over_exact():
    led = Ledger([10, 10, 2])
    led.samples = 1
    exact = led.exact_macs("forward") + led.exact_macs("backward-input") + \
        led.exact_macs("backward-weight")
    led.add(0, "forward", exact // 4)
    assert led.compute_reduction() == pytest.approx(0.75)


def test_phase_clock_charges_the_running_phase():
    led = Ledger([2, 2])
    t0 = time.perf_counter()
    with led.phase("forward"):
        time.sleep(0.02)
        with led.phase("overhead"):
            time.sleep(0.01)
            p0 = time.perf_counter()
            with led.phase(None):          # paused: charged to nothing
                time.sleep(0.02)
            paused = time.perf_counter() - p0
        time.sleep(0.01)
    i0 = time.perf_counter()
    assert led.times["forward"] >= 0.03 and led.times["overhead"] >= 0.01
    assert led.times["forward"] + led.times["overhead"] <= (i0 - t0) - paused + 1e-3
    assert led._phase is None and not led._stack


def test_phase_resumes_the_outer_phase_after_an_exception():
    led = Ledger([2, 2])
    with led.phase("forward"):
        with pytest.raises(RuntimeError):
            with led.phase("overhead"):
                raise RuntimeError
        assert led._phase == "forward"
    assert led._phase is None


def test_report_rates_the_fused_path_over_its_whole_step_time():
    led = Ledger([4, 3, 2])
    led.add(0, "forward", 600)
    led.samples = 10
    snap = led.snapshot()
    assert "backward (input + weight)" in report_lines(snap)[-1]      # no fused time: the split
    snap["seconds"]["fused"] = 2e-6                                     # 1,200 FLOPs in 2 us
    last = report_lines(snap)[-1]
    assert "fused" in last and "products at 0.6 GFLOP/s over the whole step time" in last
