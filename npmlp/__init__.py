"""npmlp: a from-scratch MLP engine for studying sampling-based training on CPUs.

Importing the package compiles nothing: kernels compile on first call or in `kernels.warmup()`.
"""

__version__ = "0.1.0"
