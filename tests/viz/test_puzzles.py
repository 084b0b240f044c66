import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from fgssl.methods.jigsaw import permutation_set
from fgssl.viz.puzzles import attempt, new_puzzle, puzzle_steps, tile_mosaic

PERMUTATIONS = torch.as_tensor(permutation_set(10, grid=3, seed=0, cache_dir=None).permutations)


def _images(n: int = 3, size: int = 30) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)


def test_mosaic_lays_tiles_out_row_by_row_with_gaps():
    tiles = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2) / 4  # tile k is all k/4
    mosaic = tile_mosaic(tiles, grid=2, gap=1)
    assert mosaic.shape == (5, 5, 3)
    assert mosaic[0, 0, 0] == 0 and mosaic[0, 3, 0] == 0.25 and mosaic[3, 0, 0] == 0.5
    assert mosaic[4, 4, 0] == 0.75 and (mosaic[2] == 1).all()  # the gap row is white


def test_the_puzzle_hides_the_answer_among_distinct_options_and_is_seeded():
    images = _images()
    puzzle = new_puzzle(images, PERMUTATIONS, choices=4, seed=3)
    assert puzzle.answer in puzzle.options and len(set(puzzle.options)) == 4
    assert puzzle.tiles.shape == (9, 3, 8, 8)  # 85% of a 10-px cell, rounded
    assert 0 <= puzzle.tiles.min() <= puzzle.tiles.max() <= 1
    again = new_puzzle(images, PERMUTATIONS, choices=4, seed=3)
    assert again.options == puzzle.options and torch.equal(again.tiles, puzzle.tiles)
    with pytest.raises(ValueError, match="choices must be 2 to 10"):
        new_puzzle(images, PERMUTATIONS, choices=11)


def test_the_right_guess_restores_the_picture_and_a_wrong_one_does_not():
    image = torch.arange(3 * 30 * 30).view(1, 3, 30, 30) % 256  # every tile is different
    puzzle = new_puzzle(image.to(torch.uint8), PERMUTATIONS, tile_fraction=1.0, seed=0)
    right = attempt(puzzle, PERMUTATIONS, puzzle.answer)
    shown = right.axes[1].images[0].get_array()
    expected = tile_mosaic(image.float()[0, :, :30, :30].unfold(1, 10, 10).unfold(2, 10, 10)
                           .permute(1, 2, 0, 3, 4).reshape(9, 3, 10, 10) / 255, 3)
    assert torch.allclose(torch.as_tensor(shown), torch.as_tensor(expected))
    assert right.axes[1].get_title().endswith("right!")
    wrong = next(k for k in puzzle.options if k != puzzle.answer)
    assert attempt(puzzle, PERMUTATIONS, wrong).axes[1].get_title().endswith("not this one")


def test_the_steps_show_each_tile_inside_its_cell_and_number_the_shuffle():
    fig = puzzle_steps(_images(1)[0], PERMUTATIONS, label=4, tile_fraction=0.8)
    assert len(fig.axes) == 5 and fig.axes[3].get_title() == "4. shuffled: permutation 4"
    boxes = fig.axes[1].patches
    assert len(boxes) == 9
    for index, box in enumerate(boxes):  # tile k lies inside cell k
        row, col = divmod(index, 3)
        x, y = box.get_x() + 0.5, box.get_y() + 0.5
        assert col * 10 <= x <= col * 10 + 2 and row * 10 <= y <= row * 10 + 2
    numbers = [int(text.get_text()) for text in fig.axes[3].texts]
    assert numbers == PERMUTATIONS[4].tolist()


def test_the_game_widget_offers_the_puzzles_options_and_deals_new_puzzles():
    from fgssl.viz.widgets import jigsaw_game

    images = _images()
    game = jigsaw_game(images, PERMUTATIONS, choices=3, seed=5)
    menu, another = game.children[0].children

    def offered() -> tuple[int, ...]:
        return tuple(value for _, value in menu.options)

    assert offered() == new_puzzle(images, PERMUTATIONS, choices=3, seed=5).options
    assert menu.options[0][0] == f"{offered()[0]}: " + " ".join(
        map(str, PERMUTATIONS[offered()[0]].tolist()))  # the label shows the permutation
    another.click()
    assert offered() == new_puzzle(images, PERMUTATIONS, choices=3, seed=6).options
    menu.value = offered()[1]  # picking another redraws without error
