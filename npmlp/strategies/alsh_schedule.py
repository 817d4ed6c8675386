"""When ALSH-APPROX rebuilds its hash tables (notes/reference-implementations.md §4a, 4b, 4d, 7).

A schedule answers one question after every training step: rebuild now? It sees the number of
samples since the start of the epoch and of training, and the epoch number.

    edbt       every 100 samples while the counter is <= 10,000, then every 1,000 (EDBT §5.2: "first
               10000 training data points ... every 100 images, then every 1000"); plus a rebuild at
               each epoch's end. The EDBT code restarts the counter every epoch (counter='epoch', the
               default here); the paper's text reads as one counter over training (counter='global').
    kdd        the KDD'17 code: 10 chunks per epoch; after a chunk, rebuild if epoch <= 20 and
               epoch mod (epoch // 10 + 1) == 0 (epochs counted from 0)
    fixed      every `every` samples
    exp_decay  intervals that grow geometrically: every, every*growth, every*growth^2, ...
               (SLIDE's paper describes an exponentially decaying rebuild frequency)
    drift      every `every` samples, look at a cheap 1-bit-per-table signature of all rows and
               rebuild only if more than `threshold` of the bits changed (MONGOOSE's scheduler);
               the strategy computes the signature, this module only keeps the clock
"""
import math

SCHEDULES = ("edbt", "fixed", "kdd", "exp_decay", "drift")
COUNTERS = ("epoch", "global")


class RebuildSchedule:
    def __init__(self, kind, every=1000, growth=2.0, counter="epoch", epoch_size=1):
        self.kind, self.every, self.growth, self.counter = kind, int(every), growth, counter
        self.epoch_size = max(int(epoch_size), 1)
        self.next_at = self.every  # exp_decay / drift / fixed: sample count of the next event
        self.interval = float(self.every)

    def due(self, seen_epoch, seen_total, n_batch, epoch):
        """True when a rebuild (or, for drift, a drift check) falls inside the last batch."""
        if self.kind == "edbt":
            b = seen_epoch if self.counter == "epoch" else seen_total
            prev = b - n_batch
            return _crossed_edbt(prev, b)
        if self.kind == "kdd":
            chunk = math.ceil(self.epoch_size / 10)
            crossed = (seen_epoch // chunk) > ((seen_epoch - n_batch) // chunk)
            return crossed and epoch <= 20 and epoch % (epoch // 10 + 1) == 0
        if seen_total >= self.next_at:
            if self.kind == "exp_decay":
                self.interval *= self.growth
                self.next_at += max(int(self.interval), 1)
            else:
                self.next_at += self.every
            return True
        return False

    def at_epoch_end(self):
        return self.kind == "edbt"

    def state(self):
        return [self.next_at, self.interval]

    def load(self, st):
        self.next_at, self.interval = int(st[0]), float(st[1])


def _edbt_marks(b):
    """Number of EDBT rebuild points in (0, b]: multiples of 100 up to 10,000, then of 1,000."""
    if b <= 0:
        return 0
    if b <= 10_000:
        return b // 100
    return 100 + (b // 1000 - 10)


def _crossed_edbt(prev, b):
    """Whether a rebuild point lies in (prev, b] (a batch may step over one)."""
    return _edbt_marks(b) > _edbt_marks(prev)
