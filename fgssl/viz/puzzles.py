"""Jigsaw puzzles drawn: how one is made, and a puzzle with a guessed solution.

The figures show exactly what :mod:`fgssl.methods.jigsaw` does (they call its functions), so
what a student sees is what the network gets. Every function returns a matplotlib ``Figure``.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from fgssl.methods.jigsaw import (
    TILE_FRACTION,
    cut_tiles,
    make_puzzles,
    shuffle_tiles,
    standardise_tiles,
    tile_size,
    unshuffle_tiles,
)

GAP = 2  # display pixels between tiles (at the tiles' resolution)


def tile_mosaic(tiles: torch.Tensor, grid: int, gap: int = GAP) -> np.ndarray:
    """Tiles (T, 3, t, t) in [0, 1] laid out row by row with white gaps: (H, W, 3) floats."""
    size = tiles.shape[-1]
    side = grid * size + (grid - 1) * gap
    mosaic = np.ones((side, side, 3), np.float32)
    for index, tile in enumerate(tiles.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()):
        row, col = divmod(index, grid)
        y, x = row * (size + gap), col * (size + gap)
        mosaic[y:y + size, x:x + size] = tile
    return mosaic


def _number_tiles(ax: Axes, numbers: list[int], grid: int, size: int, gap: int = GAP) -> None:
    for index, number in enumerate(numbers):
        row, col = divmod(index, grid)
        ax.text(col * (size + gap) + 1, row * (size + gap) + 1, str(number), color="white",
                fontsize=8, va="top", ha="left", fontweight="bold",
                bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0})


def _stretch(tiles: torch.Tensor) -> torch.Tensor:
    """Standardised tiles (T, C, t, t) mapped to [0, 1] per tile, for the eye."""
    low = tiles.amin(dim=(1, 2, 3), keepdim=True)
    high = tiles.amax(dim=(1, 2, 3), keepdim=True)
    return (tiles - low) / (high - low).clamp_min(1e-6)


def puzzle_steps(image: torch.Tensor, permutations: torch.Tensor, label: int, grid: int = 3,
                 tile_fraction: float = TILE_FRACTION, seed: int = 0) -> Figure:
    """A Jigsaw puzzle made step by step from one image: the grid of cells; the tile cut at a
    random place inside each cell (the gap and the jitter); the tiles; the tiles shuffled by
    one permutation, each numbered with its original place; and what the network gets (each
    tile standardised).

    Args:
        image: (3, H, W) uint8.
        permutations: (K, T) the permutation set.
        label: which of the K shuffles the tiles.
        grid: tiles per side.
        tile_fraction: a tile's side as a fraction of its cell's.
        seed: seeds where each tile is cut.

    Returns:
        The figure."""
    floats = image.float()[None] / 255  # (1, 3, H, W)
    height, width = floats.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    coordinates = torch.stack([ys, xs]).float()[None]  # (1, 2, H, W): where each pixel was
    torch.manual_seed(seed)
    tile = tile_size(min(height, width), grid, tile_fraction)
    cut = cut_tiles(torch.cat([floats, coordinates], 1), grid, tile)[0]  # (T, 5, t, t)
    tiles, corners = cut[:, :3], cut[:, 3:, 0, 0].long()  # corners: (T, 2) top-left y, x
    size, cell = tiles.shape[-1], min(height, width) // grid
    order = permutations[label]
    shuffled = shuffle_tiles(tiles[None], permutations, torch.tensor([label]))[0]

    fig, axes = plt.subplots(1, 5, figsize=(13, 3))
    titles = ["1. cut into a grid", "2. a tile inside each cell", "3. the tiles",
              f"4. shuffled: permutation {label}", "5. what the network gets"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    for ax in axes[:2]:
        ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
    for k in range(1, grid):
        for ax in axes[:2]:
            ax.axhline(k * cell - 0.5, color="white", linewidth=1)
            ax.axvline(k * cell - 0.5, color="white", linewidth=1)
    for y, x in corners.tolist():
        axes[1].add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False,
                                    edgecolor="yellow", linewidth=1.5))
    axes[2].imshow(tile_mosaic(tiles, grid), interpolation="nearest")
    _number_tiles(axes[2], list(range(len(tiles))), grid, size)
    axes[3].imshow(tile_mosaic(shuffled, grid), interpolation="nearest")
    _number_tiles(axes[3], order.tolist(), grid, size)
    network_view = _stretch(standardise_tiles(shuffled))
    axes[4].imshow(tile_mosaic(network_view, grid), interpolation="nearest")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Puzzle:
    """One puzzle for a person to solve: its tiles (T, 3, t, t) in [0, 1], already shuffled,
    the index of the permutation that shuffled them, and the permutations on offer."""

    tiles: torch.Tensor
    answer: int
    options: tuple[int, ...]


def new_puzzle(images: torch.Tensor, permutations: torch.Tensor, grid: int = 3,
               tile_fraction: float = TILE_FRACTION, choices: int = 4, seed: int = 0) -> Puzzle:
    """A puzzle made (seeded) from a random one of ``images`` (N, 3, H, W) uint8, with the
    right permutation hidden among ``choices`` members of ``permutations`` (K, T)."""
    if not 2 <= choices <= len(permutations):
        raise ValueError(f"choices must be 2 to {len(permutations)} (the set's size), got "
                         f"{choices}")
    generator = torch.Generator().manual_seed(seed)
    pick = int(torch.randint(len(images), (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tile = tile_size(min(images.shape[-2:]), grid, tile_fraction)
        puzzles, labels = make_puzzles(images[pick:pick + 1].float() / 255, permutations, grid,
                                       tile, standardise=False)
    answer = int(labels[0])
    others = [k for k in torch.randperm(len(permutations), generator=generator).tolist()
              if k != answer][:choices - 1]
    options = [answer, *others]
    shuffled = torch.randperm(choices, generator=generator).tolist()
    return Puzzle(puzzles[0], answer, tuple(options[i] for i in shuffled))


def attempt(puzzle: Puzzle, permutations: torch.Tensor, guess: int, grid: int = 3) -> Figure:
    """The puzzle as given, and its tiles put back under permutation ``guess``, with a
    verdict: the right permutation restores the picture."""
    restored = unshuffle_tiles(puzzle.tiles[None], permutations, torch.tensor([guess]))[0]
    fig, (given, back) = plt.subplots(1, 2, figsize=(6, 3.2))
    given.imshow(tile_mosaic(puzzle.tiles, grid), interpolation="nearest")
    given.set_title("the puzzle", fontsize=10)
    back.imshow(tile_mosaic(restored, grid), interpolation="nearest")
    verdict = "right!" if guess == puzzle.answer else "not this one"
    back.set_title(f"put back by permutation {guess}: {verdict}", fontsize=10,
                   color="tab:green" if guess == puzzle.answer else "tab:red")
    for ax in (given, back):
        ax.axis("off")
    fig.tight_layout()
    return fig
