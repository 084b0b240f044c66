"""Interactive explorers: thin ipywidgets wrappers over the pure plotting functions.

Only APIs common to ipywidgets 7.7 (Colab) and 8.x are used (``Dropdown``, ``IntSlider``,
``FloatSlider``, ``Checkbox``, ``Button``, ``Output``, ``HBox``/``VBox``, ``Layout``,
``observe`` and ``on_click``), controls redraw on release (``continuous_update=False``), and
each wrapper draws its default view once when it is built, so a notebook run without a
browser (CI) still shows something.

- :func:`sibling_explorer`: two sibling species at the resolution you choose (notebook 00).
- :func:`jigsaw_game`: solve a puzzle yourself (notebook 03).
- :func:`neighbour_browser`: a query and its neighbours under each method.
- :func:`embedding_explorer`: pick a species; see where it lies in each map, and its images.
- :func:`augmentation_explorer`: SimCLR's views under your own crop scale, jitter, variant.
- :func:`gradcam_explorer`: where each method looks, image by image, layer by layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from torch import nn

from fgssl.data.synthbirds import NUM_CLASSES, SPECIES_NAMES, differing_part
from fgssl.methods.jigsaw import TILE_FRACTION
from fgssl.transforms import VARIANTS
from fgssl.viz.cam import feature_map_layers, grad_cam
from fgssl.viz.embed import highlight_class
from fgssl.viz.images import heatmaps, synthbirds_siblings, views_grid
from fgssl.viz.neighbours import neighbours_by_method
from fgssl.viz.puzzles import Puzzle, attempt, new_puzzle


def _draw(output: widgets.Output, figure: plt.Figure) -> None:
    with output:
        output.clear_output(wait=True)
        display(figure)
    plt.close(figure)


def jigsaw_game(images: torch.Tensor, permutations: torch.Tensor, grid: int = 3,
                tile_fraction: float = TILE_FRACTION, choices: int = 4, seed: int = 0
                ) -> widgets.VBox:
    """Solve it yourself: a puzzle and a menu of permutations, one of them right. Pick one to
    see the tiles put back by it; "new puzzle" draws another. The network chooses among all K.

    Args:
        images: (N, 3, H, W) uint8 to make puzzles of.
        permutations: (K, T) the permutation set.
        grid: tiles per side.
        tile_fraction: a tile's side as a fraction of its cell's.
        choices: permutations on the menu.
        seed: seeds the puzzles and the menus.

    Returns:
        The widget."""
    state = {"seed": seed}
    menu = widgets.Dropdown(description="permutation")
    another = widgets.Button(description="new puzzle")
    output = widgets.Output()

    def options_of(puzzle: Puzzle) -> list[tuple[str, int]]:
        return [(f"{k}: {' '.join(map(str, permutations[k].tolist()))}", k)
                for k in puzzle.options]

    def show(guess: int) -> None:
        _draw(output, attempt(state["puzzle"], permutations, guess, grid))

    def deal(_: object = None) -> None:
        state["puzzle"] = new_puzzle(images, permutations, grid, tile_fraction, choices,
                                     state["seed"])
        state["seed"] += 1
        menu.unobserve(on_pick, names="value")
        menu.options = options_of(state["puzzle"])
        menu.value = state["puzzle"].options[0]
        menu.observe(on_pick, names="value")
        show(menu.value)

    def on_pick(change: dict) -> None:
        show(change["new"])

    menu.observe(on_pick, names="value")
    another.on_click(deal)
    deal()
    return widgets.VBox([widgets.HBox([menu, another]), output])


def _explorer(controls: Sequence[widgets.Widget], draw: Callable[[], plt.Figure]
              ) -> widgets.VBox:
    """Controls above an output that ``draw()`` fills now and whenever a control changes
    (buttons: when clicked)."""
    output = widgets.Output()

    def redraw(_: object = None) -> None:
        _draw(output, draw())

    for control in controls:
        if isinstance(control, widgets.Button):
            control.on_click(redraw)
        else:
            control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(controls)), output])


def sibling_explorer(size: int = 32) -> widgets.VBox:
    """Pick a pair of SynthBirds sibling species, the resolution and whether to mark the parts:
    two birds of each (:func:`~fgssl.viz.images.synthbirds_siblings`). Where does the one
    part that tells them apart stop being visible?

    Args:
        size: the resolution shown first, in pixels.

    Returns:
        The widget, to display in a notebook."""
    pair = widgets.Dropdown(options=[(f"{SPECIES_NAMES[2 * p]} / {SPECIES_NAMES[2 * p + 1]}"
                                      f" (differ in {differing_part(2 * p).replace('_', ' ')})",
                                      p) for p in range(NUM_CLASSES // 2)],
                            value=0, description="siblings",
                            layout=widgets.Layout(width="380px"))  # the whole part's name
    pixels = widgets.IntSlider(value=size, min=16, max=128, step=16, description="pixels",
                               continuous_update=False)
    parts = widgets.Checkbox(value=False, description="mark the parts")
    return _explorer([pair, pixels, parts], lambda: synthbirds_siblings(
        pixels.value, pairs=[pair.value], annotate=parts.value))


def neighbour_browser(images: torch.Tensor, features: dict[str, np.ndarray],
                      labels: np.ndarray, class_names: Sequence[str] | None = None, k: int = 5
                      ) -> widgets.VBox:
    """Pick a query image: its k nearest neighbours under each method's features, one row per
    method (:func:`~fgssl.viz.neighbours.neighbours_by_method`).

    Args:
        images: (N, 3, H, W) uint8.
        features: method name -> (N, D).
        labels: (N,) classes.
        class_names: the classes' names.
        k: neighbours per query.

    Returns:
        The widget."""
    query = widgets.IntSlider(value=0, min=0, max=len(labels) - 1, description="query",
                              continuous_update=False)
    return _explorer([query], lambda: neighbours_by_method(images, features, labels,
                                                           query.value, k, class_names))


def embedding_explorer(maps: dict[str, np.ndarray], labels: np.ndarray, images: torch.Tensor,
                       class_names: Sequence[str] | None = None,
                       pairs: Sequence[tuple[int, int]] | None = None) -> widgets.VBox:
    """Pick a class: where its points (and its sibling's) lie in each 2-D map, and a few of its
    images (:func:`~fgssl.viz.embed.highlight_class`).

    Args:
        maps: method name -> (N, 2) coordinates.
        labels: (N,) classes.
        images: (N, 3, H, W) uint8.
        class_names: the classes' names.
        pairs: sibling pairs.

    Returns:
        The widget."""
    names = class_names or [str(c) for c in range(int(np.max(labels)) + 1)]
    chosen = widgets.Dropdown(options=[(name, c) for c, name in enumerate(names)], value=0,
                              description="class")
    return _explorer([chosen], lambda: highlight_class(maps, labels, images, chosen.value,
                                                       class_names, pairs))


def augmentation_explorer(image: torch.Tensor, size: int | None = None) -> widgets.VBox:
    """SimCLR's pairs of views of one image under your settings: the smallest crop (share of
    the area), the colour-jitter strength, the fine-grained variant; "new draw" samples again
    (:func:`~fgssl.viz.images.views_grid`).

    Args:
        image: (3, H, W) uint8.
        size: the views' side (default: the image's).

    Returns:
        The widget."""
    crop = widgets.FloatSlider(value=0.35, min=0.08, max=1.0, step=0.01,
                               description="min crop", continuous_update=False)
    jitter = widgets.FloatSlider(value=0.5, min=0.0, max=1.5, step=0.1, description="jitter",
                                 continuous_update=False)
    variant = widgets.Dropdown(options=list(VARIANTS), value="standard", description="variant")
    again = widgets.Button(description="new draw")
    draws = iter(range(1_000_000))
    return _explorer([crop, jitter, variant, again], lambda: views_grid(
        image, variant.value, jitter.value, crop.value, size=size, seed=next(draws)))


def gradcam_explorer(images: torch.Tensor, labels: np.ndarray,
                     models: dict[str, tuple[nn.Module, nn.Module]],
                     points: np.ndarray | None = None,
                     class_names: Sequence[str] | None = None) -> widgets.VBox:
    """Pick an image, a method and a layer: the Grad-CAM map of the image's true class
    (:func:`~fgssl.viz.cam.grad_cam`).

    Args:
        images: (N, 3, H, W) uint8.
        labels: (N,) their classes.
        models: method name -> (backbone, head giving class scores).
        points: (N, 2) part points to mark, ``x, y`` in pixels.
        class_names: the classes' names.

    Returns:
        The widget."""
    size = int(images.shape[-1])
    layers = {name: feature_map_layers(backbone, size) for name, (backbone, _) in models.items()}
    index = widgets.IntSlider(value=0, min=0, max=len(labels) - 1, description="image",
                              continuous_update=False)
    method = widgets.Dropdown(options=list(models), description="method")
    layer = widgets.Dropdown(options=list(layers[method.value]),
                             value=list(layers[method.value])[-1], description="layer")

    def on_method(change: dict) -> None:  # another network: its own layers, the last one
        layer.options = list(layers[change["new"]])
        layer.value = list(layers[change["new"]])[-1]

    method.observe(on_method, names="value")

    def draw() -> plt.Figure:
        backbone, head = models[method.value]
        i = index.value
        chosen = layers[method.value].get(layer.value) or list(layers[method.value].values())[-1]
        cam = grad_cam(backbone, head, images[i:i + 1], torch.as_tensor(labels[i:i + 1]),
                       chosen)
        name = class_names[labels[i]] if class_names is not None else str(labels[i])
        return heatmaps(images[i:i + 1], cam, [f"{name}: {method.value}, {layer.value}"],
                        keypoints=points[i:i + 1, None] if points is not None else None,
                        ncols=1)
    return _explorer([index, method, layer], draw)
