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
for a whole batch at once with NumPy broadcasting. Like CUB, each image comes with a bounding
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
KEYPOINT_NAMES = ("beak", "crown", "eye", "wing", "breast", "tail")


def sibling_of(label: int) -> int:
    """The species that differs from ``label`` in exactly one part."""
    return label ^ 1


COLOUR_PARTS = ("beak_colour", "crown")  # parts whose options differ in colour alone


def differing_part(label: int) -> str:
    """The part in which species ``label`` and its sibling differ, e.g. ``'crown'``."""
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
    """Which option of ``part`` each species has: (N,) indices into ``PART_CHOICES[part]``
    (e.g. beak colour 0 dark, 1 yellow, 2 red), to ask what a representation knows of a part."""
    if part not in PART_CHOICES:
        raise ValueError(f"unknown part {part!r}: choose one of {', '.join(PARTS)}")
    return np.array([PART_CHOICES[part].index(SPECIES_PARTS[int(label)][part])
                     for label in labels], dtype=np.int64)


def describe(label: int) -> str:
    """A field-guide line, e.g. ``'01b: cone dark beak, red crown, ...'``."""
    p = SPECIES_PARTS[label]
    ring = "white eye ring" if p["eye_ring"] == "white" else "no eye ring"
    return (
        f"{SPECIES_NAMES[label]}: {p['beak_shape']} {p['beak_colour']} beak, {p['crown']} crown, "
        f"{ring}, {p['wing_bars']} wing bars, {p['breast']} breast, {p['tail']} tail"
    )


# --- colours (RGB in [0, 1]); part colours also appear in the clutter -------------------------
_BEAK_RGB = {"dark": (0.15, 0.13, 0.12), "yellow": (0.95, 0.80, 0.15), "red": (0.85, 0.20, 0.12)}
_CROWN_RGB = {"red": (0.85, 0.15, 0.15), "black": (0.08, 0.08, 0.08), "yellow": (0.95, 0.85, 0.2)}
_PALETTE = np.array(
    [*_BEAK_RGB.values(), *_CROWN_RGB.values(), (0.95, 0.95, 0.92), (0.35, 0.55, 0.25),
     (0.45, 0.35, 0.25), (0.55, 0.65, 0.80), (0.70, 0.60, 0.45)], dtype=np.float32,
)
_BEAK_GEOMETRY = {  # length, half-width at the base, downward hook of the tip (body lengths)
    "cone": (0.09, 0.07, 0.0), "long": (0.28, 0.07, 0.0), "hooked": (0.14, 0.06, 0.08),
}
_TAIL_GEOMETRY = {"short": (0.10, 0.0), "long": (0.34, 0.0), "forked": (0.30, 1.0)}

# --- the shared body plan, in bird coordinates (u forward, v down; body length ~1) ----------
_HEAD_CENTRE, _HEAD_RADIUS = (0.27, -0.13), 0.15
_EYE_CENTRE, _EYE_RADIUS, _RING_RADIUS = (0.31, -0.15), 0.03, 0.065
_BEAK_BASE = (0.39, -0.12)
_HALF_LENGTH = 0.7  # half the longest bird, beak tip to tail tip (body lengths)
_KEYPOINTS_UV = {  # where each named part is, for the keypoints (beak and tail vary)
    "crown": (0.25, -0.25), "eye": _EYE_CENTRE, "wing": (-0.12, 0.02), "breast": (0.10, 0.13),
}
_N_CLUTTER, _BLOB_RADIUS = 5, (0.03, 0.16)  # clutter blobs per image, their radii
_WHITE, _BLACK, _GREY = (np.float32(c) for c in ((0.96, 0.96, 0.93), (0.03, 0.03, 0.03),
                                                 (0.2, 0.2, 0.2)))


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


Number = float | np.ndarray


def _ellipse_sdf(u: np.ndarray, v: np.ndarray, cu: Number, cv: Number, ru: Number, rv: Number
                 ) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse (negative inside)."""
    du, dv = (u - cu) / ru, (v - cv) / rv
    return (np.sqrt(du * du + dv * dv) - 1.0) * np.minimum(ru, rv)


def _coverage(sdf: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a shape, ramping over one pixel at its edge."""
    alpha = sdf / pixel
    np.subtract(0.5, alpha, out=alpha)
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def _paint(pixels: np.ndarray, alpha: np.ndarray, colour: np.ndarray,
           owner: np.ndarray | None = None) -> None:
    """Composite ``colour`` over ``pixels`` (N, 3) with coverage ``alpha`` (N,), in place.

    ``colour`` is one (3,) colour, or (B, 3) colours, one per image, with ``owner`` (N,) saying
    which image each pixel belongs to. Parts are small: only covered pixels are touched.
    """
    _paint_at(pixels, np.arange(len(alpha)), alpha, colour, owner)


def _paint_at(pixels: np.ndarray, at: np.ndarray, alpha: np.ndarray, colour: np.ndarray,
              owner: np.ndarray | None = None) -> None:
    """:func:`_paint` onto the pixels ``pixels[at]``; ``alpha`` and ``owner`` are (len(at),)."""
    hit = np.flatnonzero(alpha)
    where = at[hit]
    covered = pixels[where]
    target = colour if owner is None else colour[owner[hit]]
    covered += alpha[hit, None] * (target - covered)
    pixels[where] = covered


class SynthBirds:
    """The renderer. ``seed`` picks a different (but equally hard) draw of every split."""

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
        """Render images ``indices`` of ``split`` at ``size`` x ``size`` pixels."""
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
        shift = per_image(lambda r: r.uniform(-1.0, 1.0, 2)) * \
            np.stack([np.maximum(0.0, 0.49 - _HALF_LENGTH * scale), np.full_like(scale, 0.09)], 1)
        centre = 0.5 + shift
        body_rgb = per_image(lambda r: _hsv_to_rgb(r.uniform(0, 1), r.uniform(0.15, 0.6),
                                                   r.uniform(0.35, 0.85)))
        clutter = [_draw_clutter(r) for r in rngs]
        light = per_image(lambda r: (r.uniform(0.75, 1.15), *r.normal(0.0, 0.15, 2)))
        cast = per_image(lambda r: 1.0 + r.normal(0.0, 0.08, 3))
        noise = per_image(lambda r: r.uniform(0.01, 0.04))[:, 0]

        # pixel grid -> bird coordinates (u forward, v down), per image: (B, H, W)
        xs = (np.arange(size, dtype=np.float32) + 0.5) / size
        gx = xs[None, None, :] - centre[:, 0, None, None]
        gy = xs[None, :, None] - centre[:, 1, None, None]
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        s = scale[:, None, None]
        u = (gx * cos + gy * sin) * (flip[:, None, None] / s)
        v = (gy * cos - gx * sin) / s

        image = _background(clutter, xs, size)
        # shapes are evaluated only at the pixels near the bird
        near = np.flatnonzero((u > -0.75) & (u < 0.7) & (v > -0.33) & (v < 0.43))
        owner = near // (size * size)
        pixels = image.reshape(-1, 3)[near]
        species = [SPECIES_PARTS[label] for label in labels]
        bird_alpha = _draw_bird(pixels, u.reshape(-1)[near], v.reshape(-1)[near],
                                1.0 / (size * scale[owner]), owner, species, body_rgb)
        image.reshape(-1, 3)[near] = pixels
        bird_mask = np.zeros(image.shape[:3], dtype=bool)
        bird_mask.reshape(-1)[near] = bird_alpha > 0.5

        gain = light[:, 0, None, None] + light[:, 1, None, None] * (xs[None, None, :] - 0.5) \
            + light[:, 2, None, None] * (xs[None, :, None] - 0.5)
        image *= gain[..., None] * cast[:, None, None, :]
        for k, r in enumerate(rngs):  # uniform sensor noise with standard deviation noise[k]
            image[k] += (r.random((size, size, 3), dtype=np.float32) - 0.5) * (3.464 * noise[k])
        images = np.clip(image * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)

        keypoints = _bird_to_pixels(_keypoints_uv(species), centre, angle, scale, flip, size)
        return RenderedBatch(images, labels, _boxes(bird_mask), keypoints)


def _draw_bird(pixels: np.ndarray, u: np.ndarray, v: np.ndarray, pixel: np.ndarray,
               owner: np.ndarray, species: list[dict[str, str]], body_rgb: np.ndarray
               ) -> np.ndarray:
    """Paint the bird over ``pixels`` (N, 3); return its coverage (N,).

    ``u``, ``v`` and ``pixel`` (one pixel's size in bird units) are (N,) arrays for the N
    pixels near a bird; ``owner`` (N,) says which image each pixel belongs to.
    """
    table = _PartTable(species)
    dark_body = body_rgb * 0.6

    # tail: an ellipse behind the body; a forked tail is wider, with a deep notch at its end
    tail_len, forked = table.tail_length[owner], table.forked[owner]
    tail = _ellipse_sdf(u, v, -0.33 - tail_len / 2, 0.0, tail_len / 2 + 0.04, 0.075 + 0.06 * forked)
    notch = _ellipse_sdf(u, v, -0.35 - tail_len, 0.0, 0.22, 0.09)
    tail_alpha = _coverage(np.where(forked, np.maximum(tail, -notch), tail), pixel)
    _paint(pixels, tail_alpha, dark_body, owner)

    # legs: two short dark strokes below the body
    leg_v = np.abs(v - 0.28) - 0.09
    legs = np.minimum(np.maximum(np.abs(u + 0.02) - 0.02, leg_v),
                      np.maximum(np.abs(u - 0.08) - 0.02, leg_v))
    legs_alpha = _coverage(legs, pixel)
    _paint(pixels, legs_alpha, _GREY)

    body = _ellipse_sdf(u, v, -0.03, 0.05, 0.34, 0.21)
    head = _ellipse_sdf(u, v, *_HEAD_CENTRE, _HEAD_RADIUS, _HEAD_RADIUS)
    body_alpha = _coverage(np.minimum(body, head), pixel)
    _paint(pixels, body_alpha, body_rgb, owner)

    # breast: a pale patch, plain, spotted or streaked
    breast = _coverage(np.maximum(_ellipse_sdf(u, v, 0.10, 0.12, 0.19, 0.12), body), pixel)
    _paint(pixels, breast, np.minimum(body_rgb * 1.35 + 0.1, 1.0), owner)
    on = np.flatnonzero(breast)
    bu, bv, b_owner = u[on], v[on], owner[on]
    spots = (np.hypot((bu * 14.0) % 1.0 - 0.5, ((bv + 0.5) * 14.0) % 1.0 - 0.5) - 0.32) / 14.0
    streaks = (np.abs((bu * 12.0) % 1.0 - 0.5) - 0.17) / 12.0
    pattern = np.where(table.spotted[b_owner], spots,
                       np.where(table.streaked[b_owner], streaks, 1.0))
    _paint_at(pixels, on, breast[on] * _coverage(pattern, pixel[on]), dark_body * 0.6, b_owner)

    # wing, with 0, 1 or 2 pale bars across it
    wing_alpha = _coverage(_ellipse_sdf(u, v, -0.10, 0.01, 0.24, 0.12), pixel)
    _paint(pixels, wing_alpha, dark_body, owner)
    on = np.flatnonzero(wing_alpha)
    wu, n_bars = u[on], table.wing_bars[owner[on]]
    bar1, bar2 = np.abs(wu + 0.02) - 0.035, np.abs(wu + 0.14) - 0.035
    bars = np.where(n_bars >= 2, np.minimum(bar1, bar2), np.where(n_bars >= 1, bar1, 1.0))
    _paint_at(pixels, on, wing_alpha[on] * _coverage(bars, pixel[on]), _WHITE)

    # the head's parts, evaluated only at the pixels in front of the neck
    on = np.flatnonzero(u > _HEAD_CENTRE[0] - _HEAD_RADIUS - 0.02)
    beak_alpha = np.zeros_like(tail_alpha)
    beak_alpha[on] = _draw_head(pixels, on, u[on], v[on], head[on], pixel[on], owner[on], table)
    return np.maximum.reduce([tail_alpha, legs_alpha, body_alpha, beak_alpha])


def _draw_head(pixels: np.ndarray, on: np.ndarray, u: np.ndarray, v: np.ndarray,
               head: np.ndarray, pixel: np.ndarray, owner: np.ndarray, table: _PartTable
               ) -> np.ndarray:
    """Paint crown, eye ring, eye and beak at ``pixels[on]``; return the beak's coverage."""
    # crown: the top of the head in the crown colour (plain crowns keep the head colour)
    crown = np.maximum(head, v - _HEAD_CENTRE[1] + 0.03)
    _paint_at(pixels, on, table.has_crown[owner] * _coverage(crown, pixel), table.crown_rgb, owner)

    ring = _ellipse_sdf(u, v, *_EYE_CENTRE, _RING_RADIUS, _RING_RADIUS)
    _paint_at(pixels, on, table.has_ring[owner] * _coverage(ring, pixel), _WHITE)
    eye = _ellipse_sdf(u, v, *_EYE_CENTRE, _EYE_RADIUS, _EYE_RADIUS)
    _paint_at(pixels, on, _coverage(eye, pixel), _BLACK)

    # beak: a tapering wedge from the face, its tip bent down for hooked beaks
    length, width, hook = table.beak_length[owner], table.beak_width[owner], table.hook[owner]
    t = np.clip((u - _BEAK_BASE[0]) / length, 0.0, 1.0)  # 0 at the base, 1 at the tip
    beak = np.maximum(np.abs(v - _BEAK_BASE[1] - hook * t * t) - width * (1.0 - t),
                      np.maximum(_BEAK_BASE[0] - 0.03 - u, u - _BEAK_BASE[0] - length))
    beak_alpha = _coverage(beak, pixel)
    _paint_at(pixels, on, beak_alpha, table.beak_rgb, owner)
    return beak_alpha


class _PartTable:
    """Per-image part parameters as arrays, (B,) or (B, 3), for a batch of species."""

    def __init__(self, species: list[dict[str, str]]) -> None:
        def column(fn: Callable[[dict[str, str]], object], dtype: type = np.float32
                   ) -> np.ndarray:
            return np.array([fn(p) for p in species], dtype=dtype)

        self.tail_length = column(lambda p: _TAIL_GEOMETRY[p["tail"]][0])
        self.forked = column(lambda p: _TAIL_GEOMETRY[p["tail"]][1] > 0, bool)
        self.spotted = column(lambda p: p["breast"] == "spotted", bool)
        self.streaked = column(lambda p: p["breast"] == "streaked", bool)
        self.wing_bars = column(lambda p: int(p["wing_bars"]))
        self.has_crown = column(lambda p: p["crown"] != "plain")
        self.crown_rgb = column(lambda p: _CROWN_RGB.get(p["crown"], (0.0, 0.0, 0.0)))
        self.has_ring = column(lambda p: p["eye_ring"] == "white")
        self.beak_length, self.beak_width, self.hook = column(
            lambda p: _BEAK_GEOMETRY[p["beak_shape"]]).reshape(-1, 3).T
        self.beak_rgb = column(lambda p: _BEAK_RGB[p["beak_colour"]])


def _keypoints_uv(species: list[dict[str, str]]) -> np.ndarray:
    """Named part locations in bird coordinates, (B, K, 2)."""
    rows = []
    for p in species:
        length, _, hook = _BEAK_GEOMETRY[p["beak_shape"]]
        tail_len = _TAIL_GEOMETRY[p["tail"]][0]
        points = {
            **_KEYPOINTS_UV,
            "beak": (_BEAK_BASE[0] + 0.6 * length, _BEAK_BASE[1] + 0.36 * hook),
            "tail": (-0.33 - 0.8 * tail_len, 0.0),
        }
        rows.append([points[name] for name in KEYPOINT_NAMES])
    return np.array(rows, dtype=np.float32).reshape(len(species), len(KEYPOINT_NAMES), 2)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb(h, s, v)


def _draw_clutter(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Background parameters: a 3x3 field of palette colours and a few blobs and twigs."""
    field = _PALETTE[rng.integers(len(_PALETTE), size=(3, 3))] * rng.uniform(0.6, 1.0, (3, 3, 1))
    blobs = np.column_stack([
        rng.uniform(0, 1, (_N_CLUTTER, 2)),             # centre x, y
        rng.uniform(*_BLOB_RADIUS, (_N_CLUTTER, 2)),    # radii
        _PALETTE[rng.integers(len(_PALETTE), size=_N_CLUTTER)],  # colour
    ]).astype(np.float32)
    return field.astype(np.float32), blobs


def _background(clutter: list[tuple[np.ndarray, np.ndarray]], xs: np.ndarray, size: int
                ) -> np.ndarray:
    """A smooth colour field with clutter blobs over it, (B, H, W, 3) float32."""
    fields = np.stack([f for f, _ in clutter])  # (B, 3, 3, 3): row, column, channel
    # bilinear interpolation of the 3x3 field as a (size, 3) matrix applied on both axes
    pos = np.clip(xs * 2.0 - 0.5, 0.0, 2.0 - 1e-6)
    weights = np.maximum(0.0, 1.0 - np.abs(pos[:, None] - np.arange(3)[None, :])).astype(np.float32)
    rows = np.einsum("yi,bijc->bcyj", weights, fields)  # (B, 3, H, 3)
    image = np.ascontiguousarray((rows @ weights.T).transpose(0, 2, 3, 1))  # (B, H, W, 3)

    # blobs, each evaluated only in a square window around it: (B, w, w) pixels
    flat = image.reshape(-1, 3)
    blobs = np.stack([blob for _, blob in clutter])  # (B, N, 7): x, y, rx, ry, r, g, b
    w = min(size, int(np.ceil(2 * _BLOB_RADIUS[1] * size)) + 2)
    offsets = np.arange(w)
    pixel = np.float32(1.0 / size)
    owner = np.repeat(np.arange(len(clutter)), w * w)
    for n in range(blobs.shape[1]):
        p = blobs[:, n, :, None, None]
        corner = np.clip(((blobs[:, n, :2] - _BLOB_RADIUS[1]) * size).astype(np.int64),
                         0, size - w)  # (B, 2): first column, first row of the window
        cols = corner[:, 0, None, None] + offsets[None, None, :]
        rows = corner[:, 1, None, None] + offsets[None, :, None]
        sdf = _ellipse_sdf(xs[cols], xs[rows], p[:, 0], p[:, 1], p[:, 2], p[:, 3])
        at = (np.arange(len(clutter))[:, None, None] * size + rows) * size + cols
        _paint_at(flat, at.reshape(-1), _coverage(sdf, pixel).reshape(-1), blobs[:, n, 4:7],
                  owner)
    return image


def _bird_to_pixels(points_uv: np.ndarray, centre: np.ndarray, angle: np.ndarray,
                    scale: np.ndarray, flip: np.ndarray, size: int) -> np.ndarray:
    """Map (B, K, 2) bird coordinates to (B, K, 2) pixel coordinates ``x, y``."""
    u = points_uv[..., 0] * flip[:, None] * scale[:, None]
    v = points_uv[..., 1] * scale[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x = centre[:, 0, None] + u * cos - v * sin
    y = centre[:, 1, None] + u * sin + v * cos
    return (np.stack([x, y], axis=-1) * size).astype(np.float32)


def _boxes(mask: np.ndarray) -> np.ndarray:
    """Tight ``x0, y0, x1, y1`` pixel boxes around each (B, H, W) mask."""
    size = mask.shape[-1]
    cols, rows = mask.any(axis=1), mask.any(axis=2)
    x0 = cols.argmax(axis=1)
    x1 = size - cols[:, ::-1].argmax(axis=1)
    y0 = rows.argmax(axis=1)
    y1 = size - rows[:, ::-1].argmax(axis=1)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.float32)
