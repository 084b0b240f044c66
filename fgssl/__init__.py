"""fgssl: self-supervised learning for fine-grained image classification, hands on."""

__version__ = "0.1.0"
