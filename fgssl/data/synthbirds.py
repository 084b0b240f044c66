"""SynthBirds: a procedural fine-grained dataset that needs no download.

Every bird shares one body plan (body, head, wing, tail, legs, eye). The 24 species differ only
in small local parts — beak shape and colour, crown, eye ring, wing bars, breast pattern, tail —
and come in 12 sibling pairs whose members differ in a single part, which is what makes a
problem *fine-grained* (Wah et al. 2011, CUB-200: "subordinate categories ... differ in subtle
details"). Everything else is a nuisance shared by all species: pose and mirror flips, scale,
position, cluttered background, body colour, colour cast, lighting and noise; so no global
statistic (a colour histogram, the raw pixels) identifies a species.

Each image is deterministic from ``(seed, split, index)`` and renders at any size: shapes are
signed-distance functions evaluated on the pixel grid, anti-aliased over one pixel, and drawn
for a whole batch at once with NumPy broadcasting (:mod:`fgssl.data.bird_drawing`; this module
holds the species and draws each image's nuisances). Like CUB, each image comes with a bounding
box and named part keypoints, so attention maps can be scored.

Example::

    >>> birds = SynthBirds(seed=0)
    >>> batch = birds.render("train", range(4), size=32)
    >>> batch.images.shape, batch.labels.tolist()
    ((4, 32, 32, 3), [0, 1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from fgssl.data import bird_drawing as drawing
from fgssl.data.bird_drawing import KEYPOINT_NAMES

RENDERER_VERSION = 2  # bump whenever a change alters the pixels; it keys the render cache

SPLITS = ("unlabelled", "train", "val", "test")
_SPLIT_CODES = {name: code for code, name in enumerate(SPLITS)}

# --- species: 12 sibling pairs; a sibling changes exactly one part of its pair ---------------
PARTS = ("beak_shape", "beak_colour", "crown", "eye_ring", "wing_bars", "breast", "tail")
PART_CHOICES: dict[str, tuple[str, ...]] = {
    "beak_shape": ("cone", "long", "hooked"),
    "beak_colour": ("dark", "yellow", "red"),
    "crown": ("plain", "red", "black", "yellow"),
    "eye_ring": ("none", "white"),
    "wing_bars": ("0", "1", "2"),
    "breast": ("plain", "spotted", "streaked"),
    "tail": ("short", "long", "forked"),
}
_PAIRS: tuple[tuple[tuple[str, ...], tuple[str, str]], ...] = (
    # (beak_shape, beak_colour, crown, eye_ring, wing_bars, breast, tail), sibling's change
    (("cone", "dark", "plain", "none", "0", "plain", "short"), ("crown", "red")),
    (("long", "yellow", "black", "white", "1", "spotted", "long"), ("beak_colour", "red")),
    (("hooked", "red", "plain", "white", "2", "streaked", "forked"), ("wing_bars", "0")),
    (("cone", "yellow", "red", "none", "2", "spotted", "forked"), ("eye_ring", "white")),
    (("long", "dark", "yellow", "none", "0", "streaked", "short"), ("breast", "plain")),
    (("hooked", "dark", "black", "none", "1", "plain", "long"), ("tail", "forked")),
    (("cone", "red", "yellow", "white", "1", "plain", "forked"), ("beak_shape", "long")),
    (("long", "red", "plain", "none", "2", "plain", "long"), ("wing_bars", "1")),
    (("hooked", "yellow", "yellow", "none", "0", "spotted", "short"), ("crown", "black")),
    (("cone", "dark", "black", "white", "2", "streaked", "long"), ("beak_colour", "yellow")),
    (("long", "yellow", "red", "white", "0", "plain", "forked"), ("breast", "streaked")),
    (("hooked", "red", "red", "none", "1", "streaked", "short"), ("tail", "long")),
)


def _species_table() -> tuple[list[str], list[dict[str, str]]]:
    names, attributes = [], []
    for pair, (base, (part, value)) in enumerate(_PAIRS, start=1):
        first = dict(zip(PARTS, base, strict=True))
        names += [f"{pair:02d}a", f"{pair:02d}b"]
        attributes += [first, {**first, part: value}]
    return names, attributes


SPECIES_NAMES, SPECIES_PARTS = _species_table()
NUM_CLASSES = len(SPECIES_NAMES)


def sibling_of(label: int) -> int:
    """The sibling species of ``label``: the one that differs from it in exactly one part.

    Args:
        label: a species, 0 to ``NUM_CLASSES`` − 1.

    Returns:
        The sibling's label."""
    return label ^ 1


COLOUR_PARTS = ("beak_colour", "crown")  # parts whose options differ in colour alone


def differing_part(label: int) -> str:
    """The part in which a species and its sibling differ.

    Args:
        label: a species.

    Returns:
        The part's name, e.g. ``'crown'``."""
    return _PAIRS[label // 2][1][0]


SIBLING_PAIRS = tuple((2 * pair, 2 * pair + 1, differing_part(2 * pair))
                      for pair in range(NUM_CLASSES // 2))  # (species, sibling, the part)


PART_KEYPOINT = {"beak_shape": "beak", "beak_colour": "beak", "crown": "crown",
                 "eye_ring": "eye", "wing_bars": "wing", "breast": "breast", "tail": "tail"}


def discriminative_points(labels: Iterable[int], keypoints: np.ndarray) -> np.ndarray:
    """Where each bird differs from its sibling species: (B, 2) ``x, y`` in pixels, picked
    from a :class:`RenderedBatch`'s ``keypoints`` (B, K, 2) by :func:`differing_part`."""
    index = [KEYPOINT_NAMES.index(PART_KEYPOINT[differing_part(int(label))])
             for label in labels]
    return keypoints[np.arange(len(index)), index]


def part_labels(labels: Iterable[int], part: str) -> np.ndarray:
    """Which option of one part each image's species has, to ask what a representation knows
    of that part.

    Args:
        labels: (N,) species.
        part: a part, e.g. ``"beak_colour"``.

    Returns:
        (N,) indices into ``PART_CHOICES[part]`` (e.g. beak colour 0 dark, 1 yellow, 2 red)."""
    if part not in PART_CHOICES:
        raise ValueError(f"unknown part {part!r}: choose one of {', '.join(PARTS)}")
    return np.array([PART_CHOICES[part].index(SPECIES_PARTS[int(label)][part])
                     for label in labels], dtype=np.int64)


def describe(label: int) -> str:
    """A species' field-guide line.

    Args:
        label: a species, 0 to ``NUM_CLASSES`` − 1.

    Returns:
        E.g. ``'01b: cone dark beak, red crown, ...'``: its name and every part."""
    p = SPECIES_PARTS[label]
    ring = "white eye ring" if p["eye_ring"] == "white" else "no eye ring"
    return (
        f"{SPECIES_NAMES[label]}: {p['beak_shape']} {p['beak_colour']} beak, {p['crown']} crown, "
        f"{ring}, {p['wing_bars']} wing bars, {p['breast']} breast, {p['tail']} tail"
    )


@dataclass
class RenderedBatch:
    """A batch of SynthBirds images with their annotations.

    images: (B, H, W, 3) uint8; labels: (B,) int64; boxes: (B, 4) float32 ``x0, y0, x1, y1``
    in pixels; keypoints: (B, K, 2) float32 ``x, y`` in pixels, K = len(KEYPOINT_NAMES).
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray


class SynthBirds:
    """The SynthBirds renderer: every image of every split drawn from its own seeded generator,
    so any image can be rendered alone, in any order, on any machine.

    Args:
        seed: picks a different (but equally hard) draw of every split."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _draw_parameters(self, split: str, index: int) -> tuple[int, np.random.Generator]:
        if split not in _SPLIT_CODES:
            raise ValueError(f"unknown SynthBirds split {split!r}: use one of {SPLITS}")
        rng = np.random.default_rng([self.seed, _SPLIT_CODES[split], index])
        # labelled splits are balanced (index modulo species); the pool is shuffled
        label = index % NUM_CLASSES if split != "unlabelled" else int(rng.integers(NUM_CLASSES))
        return label, rng

    def labels(self, split: str, indices: Iterable[int]) -> np.ndarray:
        """The species of images ``indices`` of ``split``, without rendering them, (B,)."""
        return np.array([self._draw_parameters(split, i)[0] for i in indices], dtype=np.int64)

    def render(self, split: str, indices: Iterable[int], size: int = 32) -> RenderedBatch:
        """Render images ``indices`` of ``split``.

        Args:
            split: ``"train"``, ``"val"``, ``"test"`` or ``"unlabelled"``.
            indices: which images of the split.
            size: the images' side in pixels (at least 8).

        Returns:
            A :class:`RenderedBatch`: images (N, size, size, 3) uint8, labels (N,), boxes and
            keypoints."""
        indices = list(indices)
        if size < 8:
            raise ValueError(f"SynthBirds needs at least 8 px, got {size}")
        if not indices:
            return RenderedBatch(np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.int64),
                                 np.zeros((0, 4), np.float32),
                                 np.zeros((0, len(KEYPOINT_NAMES), 2), np.float32))
        draws = [self._draw_parameters(split, i) for i in indices]
        labels = np.array([label for label, _ in draws], dtype=np.int64)
        rngs = [rng for _, rng in draws]

        def per_image(fn: Callable[[np.random.Generator], object]) -> np.ndarray:
            return np.array([fn(r) for r in rngs], dtype=np.float32).reshape(len(rngs), -1)

        # the nuisances every species shares: pose, body colour, clutter, light, cast, noise
        scale = per_image(lambda r: r.uniform(0.55, 0.7))[:, 0]  # body length / image width
        angle = per_image(lambda r: np.deg2rad(r.uniform(-15, 15)))[:, 0]
        flip = per_image(lambda r: r.choice((-1.0, 1.0)))[:, 0]
        # the whole bird stays in the frame: the horizontal shift shrinks as the bird grows
        reach = np.maximum(0.0, 0.49 - drawing.HALF_LENGTH * scale)
        shift = per_image(lambda r: r.uniform(-1.0, 1.0, 2)) * \
            np.stack([reach, np.full_like(scale, 0.09)], 1)
        centre = 0.5 + shift
        body_rgb = per_image(lambda r: drawing.hsv_to_rgb(r.uniform(0, 1), r.uniform(0.15, 0.6),
                                                   r.uniform(0.35, 0.85)))
        clutter = [drawing.draw_clutter(r) for r in rngs]
        light = per_image(lambda r: (r.uniform(0.75, 1.15), *r.normal(0.0, 0.15, 2)))
        cast = per_image(lambda r: 1.0 + r.normal(0.0, 0.08, 3))
        noise = per_image(lambda r: r.uniform(0.01, 0.04))[:, 0]

        xs, u, v = _bird_coordinates(centre, angle, scale, flip, size)
        image = drawing.background(clutter, xs, size)
        # shapes are evaluated only at the pixels near the bird
        near = np.flatnonzero((u > -0.75) & (u < 0.7) & (v > -0.33) & (v < 0.43))
        owner = near // (size * size)
        pixels = image.reshape(-1, 3)[near]
        species = [SPECIES_PARTS[label] for label in labels]
        bird_alpha = drawing.draw_bird(pixels, u.reshape(-1)[near], v.reshape(-1)[near],
                                1.0 / (size * scale[owner]), owner, species, body_rgb)
        image.reshape(-1, 3)[near] = pixels
        bird_mask = np.zeros(image.shape[:3], dtype=bool)
        bird_mask.reshape(-1)[near] = bird_alpha > 0.5

        images = _lit_and_noisy(image, xs, light, cast, noise, rngs)

        keypoints = drawing.bird_to_pixels(drawing.keypoints_uv(species), centre, angle, scale,
                                           flip, size)
        return RenderedBatch(images, labels, drawing.boxes(bird_mask), keypoints)


def _bird_coordinates(centre: np.ndarray, angle: np.ndarray, scale: np.ndarray,
                      flip: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixel grid in bird coordinates (u forward, v down), per image: the pixel centres
    ``xs`` (size,) in [0, 1], and ``u``, ``v`` (B, size, size) for each bird's ``centre``
    (B, 2), ``angle``, ``scale`` (body length / image width) and ``flip`` (B,)."""
    xs = (np.arange(size, dtype=np.float32) + 0.5) / size
    gx = xs[None, None, :] - centre[:, 0, None, None]
    gy = xs[None, :, None] - centre[:, 1, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    s = scale[:, None, None]
    return xs, (gx * cos + gy * sin) * (flip[:, None, None] / s), (gy * cos - gx * sin) / s


def _lit_and_noisy(image: np.ndarray, xs: np.ndarray, light: np.ndarray, cast: np.ndarray,
                   noise: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
    """(B, H, W, 3) floats -> uint8 images under a lighting gradient (``light``: gain and its
    x and y slopes, (B, 3)), a colour ``cast`` (B, 3) and uniform sensor noise of standard
    deviation ``noise`` (B,), each image's drawn from its own generator."""
    gain = light[:, 0, None, None] + light[:, 1, None, None] * (xs[None, None, :] - 0.5) \
        + light[:, 2, None, None] * (xs[None, :, None] - 0.5)
    image *= gain[..., None] * cast[:, None, None, :]
    size = image.shape[1]
    for k, r in enumerate(rngs):
        image[k] += (r.random((size, size, 3), dtype=np.float32) - 0.5) * (3.464 * noise[k])
    return np.clip(image * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
