"""PNG figures of a run: learning curves and the confusion matrix (written with --plot)."""
import textwrap

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Class names of the datasets whose labels are not their digits (the datasets' own documentation:
# Fashion-MNIST README, the KMNIST class map in romaji, CIFAR-10's batches.meta).
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"),
}


def class_names(dataset, n):
    """Names of the `n` classes of `dataset`: its own names where it has them, else '0'..'n-1'."""
    names = CLASS_NAMES.get(dataset)
    return list(names) if names and len(names) == n else [str(i) for i in range(n)]


def plot_curves(history, path, title=""):
    epochs = [m["epoch"] for m in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
    ax1.plot(epochs, [m["train_loss"] for m in history], "o-", label="train")
    ax1.plot(epochs, [m["val_loss"] for m in history], "s--", label="validation")
    ax1.set_xlabel("epoch"); ax1.set_ylabel("NLL loss"); ax1.legend()
    ax2.plot(epochs, [100 * m["val_accuracy"] for m in history], "o-")
    ax2.set_xlabel("epoch"); ax2.set_ylabel("validation accuracy (%)")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(cm, path, title="", labels=None):
    """`labels`: a name per class (class_names()); the title wraps above the matrix and colour bar."""
    cm = np.asarray(cm)
    labels = labels or [str(i) for i in range(cm.shape[0])]
    fig, ax = plt.subplots(figsize=(5.6, 5.2), layout="constrained")
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xlabel("predicted label"); ax.set_ylabel("true label")
    ax.set_xticks(range(cm.shape[1])); ax.set_yticks(range(cm.shape[0]))
    long = max(map(len, labels)) > 2
    ax.set_xticklabels(labels, rotation=45 if long else 0, ha="right" if long else "center",
                       fontsize=7 if long else None)
    ax.set_yticklabels(labels, fontsize=7 if long else None)
    if cm.shape[0] <= 12:
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("\n".join(textwrap.wrap(title, 50)))    # the figure's title: never under the bar
    fig.savefig(path, dpi=120)
    plt.close(fig)
