"""Shortcuts: how a Jigsaw puzzle can be solved without learning anything about objects.

A network takes the easiest route to a low loss. Noroozi & Favaro (2016) list the
routes a puzzle leaves open: tiles whose **edges** continue into each other (low-level
statistics such as the gradient and colour at the border say who the neighbours are), and
**chromatic aberration** (a lens shifts red and blue apart, the more so towards the image's
borders, so the colour fringes in a tile say where in the image it came from — Doersch et al.
2015 found their network exploiting it). Their cures: a gap between tiles with a random
position of each tile inside its cell, each tile normalised on its own, and colour tricks
(grayscale, channel jitter).

This module makes the first shortcut measurable: :func:`edge_solver` is a "network" that knows
nothing about birds — it puts the tiles back under every permutation of the set and picks the
one whose touching edges differ least. :func:`chromatic_aberration` simulates the second.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fgssl.methods.jigsaw import unshuffle_tiles


def edge_mismatch(tiles: torch.Tensor, grid: int) -> torch.Tensor:
    """Mean absolute difference across the borders of neighbouring tiles, (B,), for tiles
    (B, grid², C, t, t) laid out row by row: the last column of each tile against the first
    column of its right neighbour, the last row against the first row of the one below."""
    batch = len(tiles)
    laid_out = tiles.view(batch, grid, grid, *tiles.shape[2:])  # (B, row, col, C, t, t)
    across = (laid_out[:, :, :-1, ..., :, -1] - laid_out[:, :, 1:, ..., :, 0]).abs()
    down = (laid_out[:, :-1, :, ..., -1, :] - laid_out[:, 1:, :, ..., 0, :]).abs()
    return (across.flatten(1).sum(1) + down.flatten(1).sum(1)) / (across[0].numel()
                                                                  + down[0].numel())


@torch.no_grad()
def edge_solver(puzzles: torch.Tensor, permutations: torch.Tensor, grid: int) -> torch.Tensor:
    """A puzzle solver that knows nothing about birds: the permutation under which the tiles
    reassemble with the best-matching edges — what a network can learn instead of parts
    when tiles touch.

    Args:
        puzzles: (B, T, C, t, t) tiles in puzzle order.
        permutations: (K, T) the candidate orders.
        grid: tiles per side.

    Returns:
        (B,) guesses, indices into ``permutations``."""
    scores = torch.stack([
        edge_mismatch(unshuffle_tiles(puzzles, permutations, torch.full(
            (len(puzzles),), k, dtype=torch.long, device=puzzles.device)), grid)
        for k in range(len(permutations))], dim=1)  # (B, K)
    return scores.argmin(1)


def chromatic_aberration(images: torch.Tensor, strength: float = 0.02) -> torch.Tensor:
    """Simulated lateral chromatic aberration of a lens: the red channel magnified by
    ``1 + strength`` about the centre and the blue one shrunk by as much, so colour fringes
    grow towards the borders (none at the centre) — the shortcut that tells a Jigsaw network
    where a tile sat (Doersch et al. 2015).

    Args:
        images: (B, 3, H, W) float.
        strength: the relative magnification.

    Returns:
        (B, 3, H, W) float."""
    def zoom(channel: torch.Tensor, scale: float) -> torch.Tensor:
        theta = torch.tensor([[1 / scale, 0, 0], [0, 1 / scale, 0]], dtype=images.dtype,
                             device=images.device).expand(len(images), 2, 3)
        grid = F.affine_grid(theta, list(channel.shape), align_corners=False)
        return F.grid_sample(channel, grid, padding_mode="border", align_corners=False)

    red, green, blue = images.split(1, dim=1)
    return torch.cat([zoom(red, 1 + strength), green, zoom(blue, 1 - strength)], dim=1)
