"""fgssl: self-supervised learning for fine-grained image classification, hands on.

``fgssl.load_or_train(name, profile)`` returns a trained method (loaded from ``runs/`` or
trained now); it is imported on first use, so ``import fgssl`` stays light.
"""

from typing import Any

from fgssl.config import VERSION as __version__

__all__ = ["__version__", "load_or_train"]


def __getattr__(name: str) -> Any:
    if name == "load_or_train":
        from fgssl.study.runs import load_or_train

        return load_or_train
    raise AttributeError(f"module 'fgssl' has no attribute {name!r}")
