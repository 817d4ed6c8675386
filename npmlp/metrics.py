"""Read-outs of a trained model: confusion matrix and per-label prediction ratios (EDBT Fig. 3, 13)."""
import numpy as np


def confusion_matrix(y_true, y_pred, n_classes):
    """C[i, j] = number of samples of true class i predicted as j (rows: truth, columns: prediction)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def label_prediction_ratios(y_true, y_pred, n_classes):
    """For each label c: (# predictions of c) / (# samples whose true label is c).

    1.0 everywhere for a model whose predictions follow the true label distribution; a collapsing
    model (EDBT §9, Fig. 13) over-predicts a few labels (ratios >> 1) and never predicts others (0).
    """
    predicted = np.bincount(y_pred, minlength=n_classes).astype(np.float64)
    true = np.bincount(y_true, minlength=n_classes).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(true > 0, predicted / np.maximum(true, 1), np.nan)


def peak_memory_bytes():
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    import resource
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
