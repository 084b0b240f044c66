import torch

from fgssl.methods.jigsaw import make_puzzles, permutation_set
from fgssl.methods.jigsaw_shortcuts import chromatic_aberration, edge_mismatch, edge_solver

PERMUTATIONS = torch.as_tensor(permutation_set(20, grid=3, seed=0, cache_dir=None).permutations)


def _mismatch_by_loops(tiles: torch.Tensor, grid: int) -> list[float]:
    """Plain reference: every border pixel pair of neighbouring tiles, one at a time."""
    result = []
    for puzzle in tiles:
        total, count = 0.0, 0
        for row in range(grid):
            for col in range(grid):
                here = puzzle[row * grid + col]
                if col + 1 < grid:
                    right = puzzle[row * grid + col + 1]
                    total += float((here[:, :, -1] - right[:, :, 0]).abs().sum())
                    count += here[:, :, -1].numel()
                if row + 1 < grid:
                    below = puzzle[(row + 1) * grid + col]
                    total += float((here[:, -1, :] - below[:, 0, :]).abs().sum())
                    count += here[:, -1, :].numel()
        result.append(total / count)
    return result


def test_edge_mismatch_matches_a_loop_over_border_pixels():
    tiles = torch.rand(3, 9, 2, 4, 4, dtype=torch.float64)
    assert torch.allclose(edge_mismatch(tiles, 3), torch.tensor(_mismatch_by_loops(tiles, 3),
                                                                 dtype=torch.float64))


def _birds(n: int = 60, size: int = 30) -> torch.Tensor:
    from fgssl.data.synthbirds import SynthBirds

    batch = SynthBirds(seed=0).render("val", list(range(n)), size=size)
    return torch.from_numpy(batch.images).permute(0, 3, 1, 2).float() / 255


def test_touching_tiles_are_solved_by_their_edges_and_a_gap_stops_it():
    images = _birds()
    torch.manual_seed(1)
    touching, answers = make_puzzles(images, PERMUTATIONS, 3, tile=10, jitter=False,
                                     standardise=False)
    assert (edge_solver(touching, PERMUTATIONS, 3) == answers).float().mean() > 0.9
    gapped, answers = make_puzzles(images, PERMUTATIONS, 3, tile=8, jitter=True)
    assert (edge_solver(gapped, PERMUTATIONS, 3) == answers).float().mean() < 0.3  # chance .05


def test_chromatic_aberration_splits_red_and_blue_towards_the_borders():
    image = torch.zeros(1, 3, 41, 41)
    image[..., 4, :] = 1.0  # a white line near the top
    image[..., 20, :] = 1.0  # and one through the centre
    split = chromatic_aberration(image, strength=0.1)
    assert torch.equal(split[:, 1], image[:, 1])  # green untouched
    red, blue = split[0, 0, :, 20], split[0, 2, :, 20]
    assert red[20] > 0.9 and blue[20] > 0.9  # no shift at the centre
    assert red[:15].argmax() < 4 < blue[:15].argmax()  # red moved out (up), blue in (down)
    assert torch.allclose(chromatic_aberration(image, 0.0), image, atol=1e-6)
