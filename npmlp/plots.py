"""PNG figures of a run: learning curves and the confusion matrix (written with --plot)."""
import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_curves(history, path, title=""):
    epochs = [m["epoch"] for m in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [m["train_loss"] for m in history], "o-", label="train")
    ax1.plot(epochs, [m["val_loss"] for m in history], "s--", label="validation")
    ax1.set_xlabel("epoch"); ax1.set_ylabel("NLL loss"); ax1.legend()
    ax2.plot(epochs, [100 * m["val_accuracy"] for m in history], "o-")
    ax2.set_xlabel("epoch"); ax2.set_ylabel("validation accuracy (%)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(cm, path, title=""):
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xlabel("predicted label"); ax.set_ylabel("true label")
    ax.set_xticks(range(cm.shape[1])); ax.set_yticks(range(cm.shape[0]))
    if cm.shape[0] <= 12:
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
