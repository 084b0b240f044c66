"""Interactive explorers: thin ipywidgets wrappers over the pure plotting functions.

Only APIs common to ipywidgets 7.7 (Colab) and 8.x are used; each wrapper draws its default
view once when it is built, so a notebook run without a browser (CI) still shows something.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from fgssl.methods.jigsaw import TILE_FRACTION
from fgssl.viz.puzzles import Puzzle, attempt, new_puzzle


def _draw(output: widgets.Output, figure: plt.Figure) -> None:
    with output:
        output.clear_output(wait=True)
        display(figure)
    plt.close(figure)


def jigsaw_game(images: torch.Tensor, permutations: torch.Tensor, grid: int = 3,
                tile_fraction: float = TILE_FRACTION, choices: int = 4, seed: int = 0
                ) -> widgets.VBox:
    """Solve it yourself: a puzzle from ``images`` (N, 3, H, W) uint8 and a menu of
    ``choices`` permutations of ``permutations`` (K, T), one of them right. Pick one to see
    the tiles put back by it; "new puzzle" draws another. The network chooses among all K."""
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
