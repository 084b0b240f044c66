"""Jigsaw puzzles (Noroozi & Favaro 2016): the permutation set, the puzzle maker, the network.

The pretext task shows a network the n x n tiles of an image in one of K fixed orders and asks
which order it was. Which K orders matters: "the permutation set controls the ambiguity of the
task" — two orders that differ in only a couple of tiles are nearly impossible to tell apart,
and the network learns little from them. Noroozi & Favaro (Alg. 1) choose the set greedily:
each new permutation is the one with the largest *mean* Hamming distance (the number of tiles
in a different place) to those chosen so far. The study we start from claimed a maximal
Hamming set and did not build one (docs/STUDY.md, bug 10). fgssl uses a max-min variant of
that greedy rule: each new permutation maximises its *smallest* distance to the chosen ones,
ties going to the larger total distance, then to the seeded random generator — so that no
two permutations of the set are close.

Example::

    >>> chosen = permutation_set(100, grid=3, seed=0, cache_dir=None)
    >>> chosen.permutations.shape, chosen.min_distance >= 6
    ((100, 9), True)
"""

# Over 300 lines: a method is one file; the puzzle, its permutation set and its network.

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kornia.augmentation as K
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fgssl.config import runs_root
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Log, Method
from fgssl.models.backbones import build_backbone, smallest_strided_input

SELECTIONS = ("max_min_hamming", "random")
CANDIDATE_POOL = 100_000  # permutations sampled when there are too many to list (> 9 tiles)
TILE_FRACTION = 0.85  # tile side / cell side: Noroozi & Favaro cut 64-px tiles from 75-px cells


def hamming(candidates: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Hamming distance of each row of ``candidates`` (N, T) to one ``permutation`` (T,): (N,)."""
    return (candidates != permutation).sum(axis=1)


def _candidates(tiles: int, rng: np.random.Generator) -> np.ndarray:
    """Every permutation of ``tiles`` (up to 9 tiles: 362,880), else a seeded random sample."""
    if tiles <= 9:
        return np.array(list(itertools.permutations(range(tiles))), dtype=np.int8)
    sample = np.argsort(rng.random((CANDIDATE_POOL, tiles)), axis=1).astype(np.int8)
    return np.unique(sample, axis=0)


def max_min_hamming(count: int, tiles: int, rng: np.random.Generator) -> np.ndarray:
    """The max-min variant of Noroozi & Favaro's greedy selection of permutations: each new one
    the candidate whose smallest Hamming distance to those already chosen is largest.

    Args:
        count: how many permutations.
        tiles: T, the tiles each permutes.
        rng: draws the first permutation and the candidates.

    Returns:
        (count, tiles) permutations."""
    candidates = _candidates(tiles, rng)
    if count > len(candidates):
        raise ValueError(f"{tiles} tiles have only {len(candidates)} permutations to choose "
                         f"from, fewer than {count}: ask for fewer permutations")
    first = int(rng.integers(len(candidates)))
    return candidates[select_max_min(candidates, count, first, rng)].astype(np.int64)


def select_max_min(candidates: np.ndarray, count: int, first: int = 0,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices (count,) of a greedy max-min Hamming selection from ``candidates`` (N, T),
    starting at row ``first``: each next row is one whose smallest distance to the rows
    chosen so far is largest (ties: the largest summed distance, then a draw from ``rng``, or
    the lowest index without one)."""
    chosen = [first]
    nearest = hamming(candidates, candidates[first])  # (N,) distance to the chosen set
    total = nearest.astype(np.int64)                   # (N,) summed distance to it
    for _ in range(count - 1):
        best = np.flatnonzero(nearest == nearest.max())
        best = best[total[best] == total[best].max()]
        pick = int(rng.choice(best)) if rng is not None else int(best[0])
        chosen.append(pick)
        distance = hamming(candidates, candidates[pick])
        np.minimum(nearest, distance, out=nearest)
        total += distance
    return np.array(chosen)


def random_permutations(count: int, tiles: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct permutations drawn at random (the baseline the greedy set beats)."""
    if count > math.factorial(tiles):
        raise ValueError(f"{tiles} tiles have only {math.factorial(tiles)} permutations, "
                         f"fewer than {count}: ask for fewer permutations")
    found: dict[tuple[int, ...], None] = {}
    while len(found) < count:
        found.setdefault(tuple(rng.permutation(tiles).tolist()), None)
    return np.array(list(found), dtype=np.int64)


@dataclass(frozen=True)
class PermutationSet:
    """K permutations of a grid's tiles and how far apart they are.

    Args:
        permutations: (K, grid · grid), each row an order of the tiles.
        grid: tiles per side.
        selection: how they were chosen (:data:`SELECTIONS`).
        seed: the seed of the choice."""

    permutations: np.ndarray
    grid: int
    selection: str
    seed: int

    @property
    def pairwise(self) -> np.ndarray:
        """Hamming distances between distinct members, (K * (K - 1) / 2,)."""
        p = self.permutations
        distances = (p[:, None, :] != p[None, :, :]).sum(axis=2)
        return distances[np.triu_indices(len(p), k=1)]

    @property
    def min_distance(self) -> int:
        return int(self.pairwise.min())

    @property
    def mean_distance(self) -> float:
        return float(self.pairwise.mean())

    def report(self) -> dict[str, float | int | str]:
        """Size, grid, selection, and the minimum and mean pairwise Hamming distance."""
        return {"permutations": len(self.permutations), "grid": self.grid,
                "selection": self.selection, "seed": self.seed,
                "min_hamming": self.min_distance, "mean_hamming": round(self.mean_distance, 3)}


def permutation_set(count: int = 100, grid: int = 3, seed: int = 0,
                    selection: str = "max_min_hamming",
                    cache_dir: str | os.PathLike[str] | None = "default") -> PermutationSet:
    """The permutations of a puzzle a Jigsaw network tells apart, seeded; cached as ``.npy``
    (choosing 1,000 of 9! takes seconds, loading none).

    Args:
        count: K, how many.
        grid: tiles per side.
        seed: seeds the choice.
        selection: one of :data:`SELECTIONS`.
        cache_dir: the cache's folder (``"default"``: ``runs/jigsaw/``; ``None``: no cache).

    Returns:
        A :class:`PermutationSet` of K permutations."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}: choose one of {', '.join(SELECTIONS)}")
    if not 2 <= grid <= 4:
        raise ValueError(f"the grid must be 2 to 4 tiles a side, got {grid}")
    if count < 2:
        raise ValueError(f"a permutation set needs at least 2 permutations, got {count}")
    folder = runs_root() / "jigsaw" if cache_dir == "default" else cache_dir
    path = Path(folder) / f"{selection}_grid{grid}_k{count}_seed{seed}.npy" if folder else None
    if path is not None and path.is_file():
        return PermutationSet(np.load(path), grid, selection, seed)
    choose = max_min_hamming if selection == "max_min_hamming" else random_permutations
    permutations = choose(count, grid * grid, np.random.default_rng(seed))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, permutations)
        os.replace(temporary, path)
    return PermutationSet(permutations, grid, selection, seed)


def tile_size(image_size: int, grid: int = 3, fraction: float = TILE_FRACTION) -> int:
    """The side of a Jigsaw tile.

    Args:
        image_size: the image's side in pixels.
        grid: tiles per side.
        fraction: the tile's side as a fraction of its cell's (``image_size // grid``).

    Returns:
        The tile's side in pixels, at least 1."""
    if not 0 < fraction <= 1:
        raise ValueError(f"the tile fraction must be in (0, 1], got {fraction}")
    return max(1, round(fraction * (image_size // grid)))


def cut_tiles(images: torch.Tensor, grid: int = 3, tile: int | None = None,
              jitter: bool = True) -> torch.Tensor:
    """Cut each (C, H, W) image of a (B, C, H, W) batch into grid x grid tiles: (B, grid²,
    C, tile, tile), row by row. Cells are ``min(H, W) // grid`` pixels (integer division: the
    leftover border is never used); a tile smaller than its cell is cropped at a random place
    inside it (``jitter``, one draw per image and cell), so neighbouring tiles keep a gap and
    their edges cannot simply be matched (Noroozi & Favaro: 64-px tiles in 75-px cells)."""
    batch, _, height, width = images.shape
    cell = min(height, width) // grid
    tile = tile or cell
    if not 0 < tile <= cell:
        raise ValueError(f"a tile must be 1 to {cell} px for a {grid}x{grid} grid of "
                         f"{height}x{width} images, got {tile}")
    span = torch.arange(tile, device=images.device)
    which = torch.arange(batch, device=images.device)[:, None, None]
    tiles = []
    for row in range(grid):
        for col in range(grid):
            offsets = torch.randint(0, cell - tile + 1, (2, batch, 1), device=images.device) \
                if jitter else torch.zeros(2, batch, 1, dtype=torch.long, device=images.device)
            ys = row * cell + offsets[0] + span  # (B, tile)
            xs = col * cell + offsets[1] + span
            tiles.append(images.permute(0, 2, 3, 1)[which, ys[:, :, None], xs[:, None, :]])
    return torch.stack(tiles, 1).permute(0, 1, 4, 2, 3)  # (B, T, C, tile, tile)


def shuffle_tiles(tiles: torch.Tensor, permutations: torch.Tensor, labels: torch.Tensor
                  ) -> torch.Tensor:
    """Put each puzzle's tiles in the order of its permutation: position i of puzzle b shows
    tile ``permutations[labels[b], i]``. tiles (B, T, ...), permutations (K, T), labels (B,)."""
    order = permutations.to(tiles.device)[labels]  # (B, T)
    index = order.view(*order.shape, *[1] * (tiles.ndim - 2)).expand_as(tiles)
    return tiles.gather(1, index)


def unshuffle_tiles(puzzles: torch.Tensor, permutations: torch.Tensor, labels: torch.Tensor
                    ) -> torch.Tensor:
    """Undo :func:`shuffle_tiles` under a guess: the tile at position i of puzzle b goes back
    to place ``permutations[labels[b], i]``. Right only when ``labels`` is the true answer."""
    order = permutations.to(puzzles.device)[labels]  # (B, T)
    index = order.view(*order.shape, *[1] * (puzzles.ndim - 2)).expand_as(puzzles)
    return torch.empty_like(puzzles).scatter_(1, index, puzzles)


def standardise_tiles(tiles: torch.Tensor) -> torch.Tensor:
    """Each tile of (..., C, t, t) to zero mean and unit variance per channel."""
    mean = tiles.mean(dim=(-2, -1), keepdim=True)
    return (tiles - mean) / tiles.std(dim=(-2, -1), keepdim=True).clamp_min(1e-3)


def make_puzzles(images: torch.Tensor, permutations: torch.Tensor, grid: int = 3,
                 tile: int | None = None, jitter: bool = True, standardise: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Puzzles from a batch: tiles cut by :func:`cut_tiles`, each standardised on its own (zero
    mean, unit variance per channel, so that neighbours cannot be matched by brightness or
    colour cast), shuffled by a random member of ``permutations``.

    Args:
        images: (B, C, H, W) float.
        permutations: (K, T), T = grid².
        grid: tiles per side.
        tile: a tile's side in pixels (default: :func:`tile_size`'s).
        jitter: cut each tile at a random place inside its cell (else at its centre).
        standardise: standardise each tile on its own.

    Returns:
        The puzzles (B, T, C, tile, tile) and their labels (B,), indices into K."""
    tiles = cut_tiles(images, grid, tile, jitter)
    if standardise:
        tiles = standardise_tiles(tiles)
    labels = torch.randint(len(permutations), (len(images),), device=images.device)
    return shuffle_tiles(tiles, permutations, labels), labels


class Jigsaw(Method):
    """The context-free network (Noroozi & Favaro 2016): one backbone embeds every tile of a
    puzzle (the B·T tiles as one batch), the T feature vectors are concatenated in puzzle
    order, and an MLP names the permutation among K. What gets evaluated is the backbone.

    Views: a random grayscale (p = 0.3, against chromatic-aberration shortcuts), tiles of 85%
    of their cell cut at a random place inside it (a gap against matching edges; at 32 px that
    is only 1-2 px), each tile standardised on its own (against matching low-level colour
    statistics), shuffled by a random member of the permutation set.

    Args:
        backbone_name: one of :data:`~fgssl.models.backbones.BACKBONES`.
        image_size: the side of the images it trains on, in pixels.
        grid: tiles per side (T = grid²).
        permutations: K, the permutations the network tells apart.
        tile_fraction: a tile's side as a fraction of its cell's.
        hidden_dim: the MLP's hidden width.
        permutation_seed: seeds the choice of the set.
        selection: how the set is chosen: max-min Hamming, or at random for comparison
            (:data:`SELECTIONS`)."""

    name = "jigsaw"
    summary = "Jigsaw puzzles of 3x3 tiles (Noroozi & Favaro 2016)"
    base_lr = 0.1
    schedule = schedules(gpu=Schedule(epochs=40))  # a class period on a T4 (docs/INSTRUCTORS.md)
    options = (Option("permutations", "the size of the permutation set (default 100)",
                      minimum=2),
               Option("grid", "tiles per side (default 3)", choices=(2, 3, 4)))
    entries = (Entry("jigsaw", "Jigsaw puzzles", cost=100),)

    def __init__(self, backbone_name: str = "small_cnn", image_size: int = 32, grid: int = 3,
                 permutations: int = 100, tile_fraction: float = TILE_FRACTION,
                 hidden_dim: int = 512,
                 permutation_seed: int = 0, selection: str = "max_min_hamming") -> None:
        # the backbone every method has at this image size (its stem included), shown tiles
        super().__init__(build_backbone(backbone_name, image_size))
        self.tile = tile_size(image_size, grid, tile_fraction)
        if smallest_strided_input(self.backbone, self.tile) < 2:
            fits = next(size for size in itertools.count(image_size + 1) if smallest_strided_input(
                self.backbone, tile_size(size, grid, tile_fraction)) >= 2)
            raise ValueError(f"{grid}x{grid} Jigsaw tiles of {image_size}-px images are "
                             f"{self.tile} px, too small for {backbone_name}: a strided layer "
                             "would see one pixel (where CPU bfloat16 gradients are wrong); "
                             f"use images of {fits} px or more, or a smaller grid")
        chosen = permutation_set(permutations, grid, permutation_seed, selection).permutations
        self.register_buffer("permutation_table", torch.as_tensor(chosen, dtype=torch.long))
        self.grid = grid
        self.grayscale = K.RandomGrayscale(p=0.3)
        tiles = grid * grid
        self.head = nn.Sequential(
            nn.Linear(tiles * self.backbone.feature_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, permutations))

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) uint8 -> puzzles (B, T, 3, tile, tile) and their permutation labels (B,)."""
        floats = self.grayscale(images.float() / 255)
        return make_puzzles(floats, self.permutation_table, self.grid, self.tile)

    def logits(self, puzzles: torch.Tensor) -> torch.Tensor:
        """Permutation logits (B, K) of puzzles (B, T, 3, tile, tile)."""
        flat = puzzles.flatten(0, 1).contiguous(memory_format=torch.channels_last)
        return self.head(self.backbone(flat).view(len(puzzles), -1))  # (B, T·D) -> (B, K)

    def training_step(self, inputs: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        puzzles, permutation_labels = inputs
        logits = self.logits(puzzles)
        loss = F.cross_entropy(logits, permutation_labels)
        accuracy = (logits.argmax(1) == permutation_labels).float().mean()
        return loss, {"pretext_accuracy": accuracy}

    @torch.no_grad()
    def pretext_metrics(self, images: torch.Tensor, seed: int = 0) -> dict[str, Any]:
        """How often the permutation of fresh puzzles (seeded; the global random state is left
        alone) made from a (B, 3, H, W) uint8 batch is named, in eval mode:
        ``pretext_accuracy`` overall, and ``pretext_accuracy_by_hamming`` per Hamming distance
        of the permutation from the identity (how scrambled the puzzle is)."""
        with self.evaluating(images.device, seed):
            puzzles, labels = self.views(images)
            correct = (self.logits(puzzles).argmax(1) == labels).float()
        identity = torch.arange(self.permutation_table.shape[1], device=labels.device)
        distance = (self.permutation_table[labels] != identity).sum(1)
        return {"pretext_accuracy": float(correct.mean()),
                "pretext_accuracy_by_hamming": {int(d): float(correct[distance == d].mean())
                                                for d in distance.unique()}}
