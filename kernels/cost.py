"""What a kernel call costs: multiply-adds and bytes moved.

Every kernel module exposes, next to each kernel, a `*_cost(...)` function that returns a `Cost` from
the shapes (and selection sizes) alone, so the engine's ledger records work without timing anything.
Bytes count each array element the kernel must read or write once (compulsory traffic); caches can
only make the real traffic smaller, never larger, for a kernel that streams its operands once.
"""
from typing import NamedTuple


class Cost(NamedTuple):
    macs: int           # multiply-adds (one FMA = 1 MAC = 2 FLOPs)
    bytes_read: int
    bytes_written: int

    def __add__(self, other):  # NamedTuple's + would concatenate; costs add field by field
        return Cost(self.macs + other.macs, self.bytes_read + other.bytes_read,
                    self.bytes_written + other.bytes_written)

    def times(self, n):
        """The cost of doing this n times (e.g. once per sample of a batch)."""
        return Cost(n * self.macs, n * self.bytes_read, n * self.bytes_written)


ZERO = Cost(0, 0, 0)


def matmul_cost(m, k, n, itemsize):
    """Dense (m, k) @ (k, n): m*k*n MACs, reads both operands, writes the (m, n) result."""
    return Cost(m * k * n, (m * k + k * n) * itemsize, m * n * itemsize)
