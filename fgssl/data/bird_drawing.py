"""How a SynthBirds image is drawn: the shared body plan in bird coordinates (u forward, v
down, body length about 1), the parts' colours and geometry, shapes as signed distances
anti-aliased over one pixel, the bird composited part by part for a whole batch at once, the
cluttered background, and where the box and keypoints land in pixels.

:class:`fgssl.data.synthbirds.SynthBirds` draws the nuisances (pose, colours, light, noise)
and calls these; a change here that alters the pixels must bump its ``RENDERER_VERSION``.

Example::

    >>> float(ellipse_sdf(np.zeros(1), np.zeros(1), 0.0, 0.0, 0.5, 0.5)[0])   # the centre
    -0.5
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KEYPOINT_NAMES = ("beak", "crown", "eye", "wing", "breast", "tail")  # annotated parts

# --- colours (RGB in [0, 1]); part colours also appear in the clutter -------------------------
BEAK_RGB = {"dark": (0.15, 0.13, 0.12), "yellow": (0.95, 0.80, 0.15), "red": (0.85, 0.20, 0.12)}
_CROWN_RGB = {"red": (0.85, 0.15, 0.15), "black": (0.08, 0.08, 0.08), "yellow": (0.95, 0.85, 0.2)}
_PALETTE = np.array(
    [*BEAK_RGB.values(), *_CROWN_RGB.values(), (0.95, 0.95, 0.92), (0.35, 0.55, 0.25),
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
HALF_LENGTH = 0.7  # half the longest bird, beak tip to tail tip (body lengths)
_KEYPOINTS_UV = {  # where each named part is, for the keypoints (beak and tail vary)
    "crown": (0.25, -0.25), "eye": _EYE_CENTRE, "wing": (-0.12, 0.02), "breast": (0.10, 0.13),
}
_N_CLUTTER, _BLOB_RADIUS = 5, (0.03, 0.16)  # clutter blobs per image, their radii
_WHITE, _BLACK, _GREY = (np.float32(c) for c in ((0.96, 0.96, 0.93), (0.03, 0.03, 0.03),
                                                 (0.2, 0.2, 0.2)))


Number = float | np.ndarray


def ellipse_sdf(u: np.ndarray, v: np.ndarray, cu: Number, cv: Number, ru: Number, rv: Number
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


def draw_bird(pixels: np.ndarray, u: np.ndarray, v: np.ndarray, pixel: np.ndarray,
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
    tail = ellipse_sdf(u, v, -0.33 - tail_len / 2, 0.0, tail_len / 2 + 0.04, 0.075 + 0.06 * forked)
    notch = ellipse_sdf(u, v, -0.35 - tail_len, 0.0, 0.22, 0.09)
    tail_alpha = _coverage(np.where(forked, np.maximum(tail, -notch), tail), pixel)
    _paint(pixels, tail_alpha, dark_body, owner)

    # legs: two short dark strokes below the body
    leg_v = np.abs(v - 0.28) - 0.09
    legs = np.minimum(np.maximum(np.abs(u + 0.02) - 0.02, leg_v),
                      np.maximum(np.abs(u - 0.08) - 0.02, leg_v))
    legs_alpha = _coverage(legs, pixel)
    _paint(pixels, legs_alpha, _GREY)

    body = ellipse_sdf(u, v, -0.03, 0.05, 0.34, 0.21)
    head = ellipse_sdf(u, v, *_HEAD_CENTRE, _HEAD_RADIUS, _HEAD_RADIUS)
    body_alpha = _coverage(np.minimum(body, head), pixel)
    _paint(pixels, body_alpha, body_rgb, owner)

    # breast: a pale patch, plain, spotted or streaked
    breast = _coverage(np.maximum(ellipse_sdf(u, v, 0.10, 0.12, 0.19, 0.12), body), pixel)
    _paint(pixels, breast, np.minimum(body_rgb * 1.35 + 0.1, 1.0), owner)
    on = np.flatnonzero(breast)
    bu, bv, b_owner = u[on], v[on], owner[on]
    spots = (np.hypot((bu * 14.0) % 1.0 - 0.5, ((bv + 0.5) * 14.0) % 1.0 - 0.5) - 0.32) / 14.0
    streaks = (np.abs((bu * 12.0) % 1.0 - 0.5) - 0.17) / 12.0
    pattern = np.where(table.spotted[b_owner], spots,
                       np.where(table.streaked[b_owner], streaks, 1.0))
    _paint_at(pixels, on, breast[on] * _coverage(pattern, pixel[on]), dark_body * 0.6, b_owner)

    # wing, with 0, 1 or 2 pale bars across it
    wing_alpha = _coverage(ellipse_sdf(u, v, -0.10, 0.01, 0.24, 0.12), pixel)
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

    ring = ellipse_sdf(u, v, *_EYE_CENTRE, _RING_RADIUS, _RING_RADIUS)
    _paint_at(pixels, on, table.has_ring[owner] * _coverage(ring, pixel), _WHITE)
    eye = ellipse_sdf(u, v, *_EYE_CENTRE, _EYE_RADIUS, _EYE_RADIUS)
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
        self.beak_rgb = column(lambda p: BEAK_RGB[p["beak_colour"]])


def keypoints_uv(species: list[dict[str, str]]) -> np.ndarray:
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


def hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb(h, s, v)


def draw_clutter(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Background parameters: a 3x3 field of palette colours and a few blobs and twigs."""
    field = _PALETTE[rng.integers(len(_PALETTE), size=(3, 3))] * rng.uniform(0.6, 1.0, (3, 3, 1))
    blobs = np.column_stack([
        rng.uniform(0, 1, (_N_CLUTTER, 2)),             # centre x, y
        rng.uniform(*_BLOB_RADIUS, (_N_CLUTTER, 2)),    # radii
        _PALETTE[rng.integers(len(_PALETTE), size=_N_CLUTTER)],  # colour
    ]).astype(np.float32)
    return field.astype(np.float32), blobs


def background(clutter: list[tuple[np.ndarray, np.ndarray]], xs: np.ndarray, size: int
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
        sdf = ellipse_sdf(xs[cols], xs[rows], p[:, 0], p[:, 1], p[:, 2], p[:, 3])
        at = (np.arange(len(clutter))[:, None, None] * size + rows) * size + cols
        _paint_at(flat, at.reshape(-1), _coverage(sdf, pixel).reshape(-1), blobs[:, n, 4:7],
                  owner)
    return image


def bird_to_pixels(points_uv: np.ndarray, centre: np.ndarray, angle: np.ndarray,
                    scale: np.ndarray, flip: np.ndarray, size: int) -> np.ndarray:
    """Map (B, K, 2) bird coordinates to (B, K, 2) pixel coordinates ``x, y``."""
    u = points_uv[..., 0] * flip[:, None] * scale[:, None]
    v = points_uv[..., 1] * scale[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x = centre[:, 0, None] + u * cos - v * sin
    y = centre[:, 1, None] + u * sin + v * cos
    return (np.stack([x, y], axis=-1) * size).astype(np.float32)


def boxes(mask: np.ndarray) -> np.ndarray:
    """Tight ``x0, y0, x1, y1`` pixel boxes around each (B, H, W) mask."""
    size = mask.shape[-1]
    cols, rows = mask.any(axis=1), mask.any(axis=2)
    x0 = cols.argmax(axis=1)
    x1 = size - cols[:, ::-1].argmax(axis=1)
    y0 = rows.argmax(axis=1)
    y1 = size - rows[:, ::-1].argmax(axis=1)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.float32)
