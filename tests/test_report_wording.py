"""Report wording and figures (issue 13 items 14-15): each method's reasons said once, the timing note
for datasets the paper did not time, Theorem 7.2 as a trend beside the measured growth, and figures
that show every point they draw with readable labels."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import pytest  # noqa: E402

from npmlp.experiments import error_propagation as EP  # noqa: E402
from npmlp.experiments import figures, paper, timing  # noqa: E402
from npmlp.experiments import report as R  # noqa: E402
from npmlp.plots import class_names, plot_confusion, plot_curves  # noqa: E402


def test_reasons_are_said_once_per_method_not_per_variant():
    paras = R.reasons_once([("MC-APPROX_S", "mc-approx"), ("STANDARD_S", "standard"),
                            ("MC-APPROX_M", "mc-approx")], {"mc-approx": "WHY-MC", "standard": "WHY-STD"})
    assert paras == ["**MC-APPROX_S, MC-APPROX_M: why our numbers differ from the paper's.** WHY-MC\n",
                     "**STANDARD_S: why our numbers differ from the paper's.** WHY-STD\n"]
    text = R.agreement("MC-APPROX_M", [("mnist", 96.88, 98.10)], 2.0)
    assert text == "**MC-APPROX_M.** Within 2 points of the paper: mnist (96.88 vs 98.10).\n"


def test_timing_lines_name_the_papers_dataset_off_mnist():
    eps = [{"total": 1.0, "forward": 0.5, "backward": 0.3, "fused": 0.0, "samples": 2000}]
    assert "ours vs paper:" in timing._method_times("standard_S", eps, "mnist")
    assert "ours vs paper (mnist):" in timing._method_times("standard_S", eps, "fashion-mnist")


def test_fused_runs_compare_only_their_total_with_the_papers():
    """A fast-path run has no feedforward/backprop split: no '0.0 s vs 28.976 s' line."""
    eps = [{"total": 1.0, "forward": 0.0, "backward": 0.0, "fused": 1.0, "samples": 2000}]
    line = timing._method_times("standard_S", eps, "mnist")
    assert "total 27.5 s vs 361.51 s" in line and "forward 0.0" not in line and "not split" in line


def test_error_growth_is_shown_measured_beside_predicted():
    rs = [0.0, 3.61, 26.0, 207.0]                 # ALSH-APPROX, 3 hidden, trained (REPORT.md)
    measured, predicted = EP.growth(rs, 0.28)
    assert measured == pytest.approx([26.0 / 3.61, 207.0 / 26.0])
    assert predicted == pytest.approx([EP.theorem72(0.28, 2) / EP.theorem72(0.28, 1),
                                       EP.theorem72(0.28, 3) / EP.theorem72(0.28, 2)])
    text = EP._growth_text(rs, 0.28)
    assert "measured x7.2-x8" in text and "predicted x" in text and "(c+1)/c = 4.6" in text


def test_fashion_mnist_classes_have_names():
    assert class_names("fashion-mnist", 10)[9] == "Ankle boot"
    assert class_names("mnist", 10) == [str(i) for i in range(10)]
    assert class_names("fashion-mnist", 3) == ["0", "1", "2"]     # not the dataset's classes: digits


def test_the_papers_points_get_ticks(tmp_path):
    import matplotlib.pyplot as plt
    seen = {}
    real_save = figures._save

    def keep_ticks(fig, folder, name):
        seen["ticks"] = list(fig.axes[0].get_xticks())
        seen["xlim"] = fig.axes[0].get_xlim()
        return real_save(fig, folder, name)
    figures._save = keep_ticks
    try:
        figures.lines(str(tmp_path), "t.png", {"ours": ([1, 3, 5], [90, 80, 10])}, "hidden layers",
                      "acc", paper_points={"ALSH": ([1, 5, 7], [94, 70, 25])}, xticks=[1, 3, 5])
    finally:
        figures._save = real_save
        plt.close("all")
    assert seen["ticks"] == [1, 3, 5, 7] and seen["xlim"][1] > 7


def test_run_plots_render(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_accuracy": 0.5 + e / 10}
               for e in (1, 2, 3)]
    plot_curves(history, tmp_path / "c.png", "standard on fashion-mnist, hidden 3x1000")
    plot_confusion([[5, 1], [2, 7]], tmp_path / "m.png", "a long title " * 8, labels=["Bag", "Coat"])
    assert mpimg.imread(tmp_path / "c.png").shape[2] in (3, 4)
    assert mpimg.imread(tmp_path / "m.png").shape[2] in (3, 4)
