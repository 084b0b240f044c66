import numpy as np
import pytest
import torch

from fgssl.config import runs_root
from fgssl.methods.jigsaw import (
    cut_tiles,
    hamming,
    permutation_set,
    shuffle_tiles,
    unshuffle_tiles,
)


def _brute_force_pairwise(permutations: np.ndarray) -> list[int]:
    return [int(sum(a != b for a, b in zip(p, q, strict=True)))
            for i, p in enumerate(permutations) for q in permutations[i + 1:]]


def test_100_permutations_of_9_tiles_are_far_apart():
    chosen = permutation_set(100, grid=3, seed=0, cache_dir=None)
    p = chosen.permutations
    assert p.shape == (100, 9)
    assert all(sorted(row) == list(range(9)) for row in p.tolist())  # each row a permutation
    assert len({tuple(row) for row in p.tolist()}) == 100
    assert chosen.min_distance >= 6 and chosen.mean_distance >= 7.9
    assert sorted(chosen.pairwise.tolist()) == sorted(_brute_force_pairwise(p))


def test_greedy_selection_beats_random_selection():
    greedy = permutation_set(100, grid=3, seed=1, cache_dir=None)
    drawn = permutation_set(100, grid=3, seed=1, selection="random", cache_dir=None)
    assert greedy.min_distance > drawn.min_distance
    assert greedy.report()["min_hamming"] == greedy.min_distance


def test_the_set_is_fixed_by_its_seed():
    a = permutation_set(30, grid=3, seed=5, cache_dir=None).permutations
    b = permutation_set(30, grid=3, seed=5, cache_dir=None).permutations
    c = permutation_set(30, grid=3, seed=6, cache_dir=None).permutations
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_large_grids_sample_candidates_and_small_grids_run_out():
    four = permutation_set(20, grid=4, seed=0, cache_dir=None)
    assert four.permutations.shape == (20, 16) and four.min_distance >= 12
    assert permutation_set(24, grid=2, seed=0, cache_dir=None).permutations.shape == (24, 4)
    with pytest.raises(ValueError, match="only 24 permutations"):
        permutation_set(25, grid=2, cache_dir=None)
    with pytest.raises(ValueError, match="only 24 permutations"):
        permutation_set(25, grid=2, selection="random", cache_dir=None)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="choose one of max_min_hamming, random"):
        permutation_set(10, selection="farthest", cache_dir=None)
    with pytest.raises(ValueError, match="2 to 4 tiles a side"):
        permutation_set(10, grid=5, cache_dir=None)
    with pytest.raises(ValueError, match="at least 2"):
        permutation_set(1, cache_dir=None)


def test_sets_are_cached_on_disk_and_reloaded():
    first = permutation_set(12, grid=3, seed=2)
    cached = runs_root() / "jigsaw" / "max_min_hamming_grid3_k12_seed2.npy"
    assert cached.is_file()
    np.save(cached, first.permutations[::-1])  # prove the second call reads the file
    again = permutation_set(12, grid=3, seed=2)
    assert np.array_equal(again.permutations, first.permutations[::-1])


def test_hamming_counts_tiles_out_of_place():
    identity = np.arange(4)
    rows = np.array([[0, 1, 2, 3], [1, 0, 2, 3], [3, 2, 1, 0]])
    assert hamming(rows, identity).tolist() == [0, 2, 4]


def _numbered(batch: int, size: int) -> torch.Tensor:
    return torch.arange(batch * 3 * size * size, dtype=torch.float32).view(batch, 3, size, size)


@pytest.mark.parametrize("size, grid", [(30, 3), (32, 3), (33, 2), (64, 4)])
def test_identity_tiles_reassemble_the_source_region_exactly(size, grid):
    images = _numbered(2, size)
    tiles = cut_tiles(images, grid, jitter=False)
    cell = size // grid
    assert tiles.shape == (2, grid * grid, 3, cell, cell)
    rows = [torch.cat(list(tiles[:, r * grid:(r + 1) * grid].unbind(1)), dim=3)
            for r in range(grid)]
    assert torch.equal(torch.cat(rows, dim=2), images[:, :, :grid * cell, :grid * cell])


def test_jittered_tiles_stay_inside_their_cells():
    torch.manual_seed(0)
    size, grid, tile = 30, 3, 8
    images = _numbered(4, size)
    tiles = cut_tiles(images, grid, tile=tile)
    assert tiles.shape == (4, 9, 3, tile, tile)
    for b in range(4):
        for t in range(9):
            row, col = divmod(t, grid)
            pixel = int(tiles[b, t, 0, 0, 0]) - b * 3 * size * size  # channel 0, top-left
            y, x = divmod(pixel, size)
            assert row * 10 <= y <= row * 10 + 10 - tile and col * 10 <= x <= col * 10 + 10 - tile
    with pytest.raises(ValueError, match="a tile must be 1 to 10 px"):
        cut_tiles(images, grid, tile=11)


def test_the_inverse_permutation_restores_the_order():
    chosen = torch.as_tensor(permutation_set(10, grid=3, seed=0, cache_dir=None).permutations)
    tiles = cut_tiles(_numbered(5, 30), 3, jitter=False)
    labels = torch.tensor([0, 3, 3, 9, 1])
    puzzles = shuffle_tiles(tiles, chosen, labels)
    assert torch.equal(puzzles[1, 0], tiles[1, chosen[3, 0]])  # position i shows tile perm[i]
    restored = shuffle_tiles(puzzles, chosen.argsort(1), labels)
    assert torch.equal(restored, tiles)
    assert torch.equal(unshuffle_tiles(puzzles, chosen, labels), tiles)
    wrong = unshuffle_tiles(puzzles, chosen, (labels + 1) % 10)  # a wrong guess: wrong places
    assert all(not torch.equal(wrong[b], tiles[b]) for b in range(5))


@pytest.mark.parametrize("grid, size", [(2, 32), (3, 32), (4, 64)])
def test_the_network_names_one_of_k_permutations_for_any_grid(grid, size):
    from fgssl.methods.jigsaw import Jigsaw

    torch.manual_seed(0)
    method = Jigsaw(image_size=size, grid=grid, permutations=10, hidden_dim=32)
    images = torch.randint(0, 256, (4, 3, size, size), dtype=torch.uint8)
    puzzles, labels = method.views(images)
    assert puzzles.shape == (4, grid * grid, 3, method.tile, method.tile)
    assert labels.shape == (4,) and int(labels.max()) < 10
    assert torch.allclose(puzzles.mean(dim=(3, 4)), torch.zeros(4, grid * grid, 3), atol=1e-4)
    loss, logs = method.training_step((puzzles, labels), torch.full((4,), -1))
    loss.backward()
    assert method.logits(puzzles).shape == (4, 10) and 0 <= logs["pretext_accuracy"] <= 1
    assert all(p.grad is not None for p in method.backbone.parameters())


def test_the_network_trains_on_the_set_it_was_asked_for():
    from fgssl.methods.jigsaw import Jigsaw

    for selection in ("max_min_hamming", "random"):
        method = Jigsaw(image_size=32, permutations=12, permutation_seed=3, selection=selection)
        expected = permutation_set(12, grid=3, seed=3, selection=selection).permutations
        assert np.array_equal(method.permutation_table.numpy(), expected)
        assert method.config()["selection"] == selection


def test_a_short_run_solves_puzzles_above_chance_and_logs_it_on_val():
    from fgssl.data import catalog
    from fgssl.evaluate.monitors import PretextMonitor
    from fgssl.methods.jigsaw import Jigsaw
    from fgssl.train import Hyperparameters, Watch, fit

    torch.manual_seed(0)
    method = Jigsaw(image_size=32, grid=2, permutations=8, hidden_dim=64)
    pool = catalog.dataset("synthbirds", "unlabelled", profile="ci")
    val = catalog.dataset("synthbirds", "val", profile="ci")
    history = fit(method, pool, "ci", None, hyper=Hyperparameters(epochs=6, batch_size=64, lr=0.2),
                  watch=Watch(monitors=[PretextMonitor(val)], progress_bar=False))
    assert history[-1]["pretext_accuracy"] > 0.3  # on training puzzles; chance: 1/8
    assert history[-1]["val_pretext_accuracy"] > 0.3
    assert history[-1]["val_pretext_accuracy"] > history[0]["val_pretext_accuracy"]
    held_out = torch.stack([item[0] for item in val])
    state = torch.get_rng_state()
    scores = method.pretext_metrics(held_out)
    assert torch.equal(torch.get_rng_state(), state)  # seeded without touching the global state
    assert scores == method.pretext_metrics(held_out)
    assert scores["pretext_accuracy"] == history[-1]["val_pretext_accuracy"]
    by_hamming = scores["pretext_accuracy_by_hamming"]
    assert set(by_hamming) <= {0, 2, 3, 4}  # 2x2 grid: distances from the identity
    assert all(0 <= value <= 1 for value in by_hamming.values())


def test_the_backbone_is_the_one_every_method_has_at_the_profile_s_image_size():
    """A ResNet's stem follows the image, not the tile: at 224 px Jigsaw's ResNet-18 has the
    ImageNet stem, as every other method's does, though it is shown 63-px tiles."""
    from fgssl.methods.jigsaw import Jigsaw
    from fgssl.models.backbones import build_backbone

    method = Jigsaw(backbone_name="resnet18", image_size=224, permutations=4)
    others = build_backbone("resnet18", 224)
    assert method.tile == 63
    assert method.backbone.net.conv1.kernel_size == others.net.conv1.kernel_size == (7, 7)
    assert type(method.backbone.net.maxpool) is type(others.net.maxpool)
    puzzles, _ = method.views(torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8))
    assert method.logits(puzzles).shape == (2, 4)  # the tiles go through it


@pytest.mark.parametrize("grid, size, fits", [(3, 16, 18), (4, 20, 24)])
def test_tiles_too_small_for_the_backbone_are_refused_with_the_size_that_fits(grid, size, fits):
    # a 4-px tile reaches the small CNN's last strided layer at one pixel, where CPU bfloat16
    # gives wrong weight gradients (benchmarks/bf16_strided_conv.py): the run would blow up
    from fgssl.methods.jigsaw import Jigsaw

    with pytest.raises(ValueError, match=f"{grid}x{grid} Jigsaw tiles of {size}-px images are 4 "
                                         f"px, too small for small_cnn: .* use images of {fits} "
                                         "px or more, or a smaller grid"):
        Jigsaw(image_size=size, grid=grid, permutations=10)
    assert Jigsaw(image_size=fits, grid=grid, permutations=10).tile == 5
