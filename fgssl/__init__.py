"""fgssl: self-supervised learning for fine-grained image classification, hands on.

``fgssl.load_or_train(name, profile)`` returns a trained method (loaded from ``runs/`` or
trained now); it is imported on first use, so ``import fgssl`` stays light.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "load_or_train":
        from fgssl.methods.registry import load_or_train

        return load_or_train
    raise AttributeError(f"module 'fgssl' has no attribute {name!r}")
