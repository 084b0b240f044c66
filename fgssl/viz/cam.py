"""Where does a network look? Gradient saliency (Simonyan et al. 2014).

The saliency of a pixel is how much a small change of it would change the network's score:
the largest absolute gradient of the score over the pixel's three channels. The input must be
what the network saw in training (the same standardisation); the study we start from computed
its maps with a different normalisation than it trained with (SEED_NOTES.md, bug 12).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient_saliency(score: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor
                      ) -> torch.Tensor:
    """|d score / d pixel|, max over channels, scaled to [0, 1] per image: (B, H, W), for
    network inputs (B, 3, H, W) and a ``score`` giving one number per image, (B,)."""
    inputs = inputs.detach().clone().requires_grad_(True)
    score(inputs).sum().backward()
    saliency = inputs.grad.abs().amax(dim=1)  # (B, H, W)
    peak = saliency.flatten(1).amax(1).clamp_min(1e-12)
    return saliency / peak[:, None, None]
