import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from fgssl.data.batches import DeviceBatches
from fgssl.data.cache import CachedImages


def _cache(n: int = 23) -> CachedImages:
    images = np.arange(n * 4 * 4 * 3, dtype=np.int64).reshape(n, 4, 4, 3) % 251
    return CachedImages(images.astype(np.uint8), np.arange(n) % 5)


@pytest.mark.parametrize("hold", [False, True])  # gathered from host memory, or held
@pytest.mark.parametrize("subset", [False, True])
def test_same_batches_as_the_shuffling_data_loader(subset, hold):
    data = _cache()
    if subset:  # a label budget, repeated, as supervised training uses
        data = Subset(data, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9])
    loader = DataLoader(data, batch_size=4, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(7))
    batches = DeviceBatches(data, 4, torch.device("cpu"), hold=hold)
    assert batches.on_device == hold
    expected = list(loader)
    got = list(batches.epoch(7))
    assert len(got) == len(expected) == len(batches)
    for (images, labels), (want_images, want_labels) in zip(got, expected, strict=True):
        assert images.dtype == torch.uint8 and images.shape == want_images.shape
        assert torch.equal(images, want_images) and torch.equal(labels, want_labels)


def test_ranks_share_one_permutation_without_overlap():
    data = _cache(40)
    identities = []  # an image's first three bytes are unique to it in this cache
    for rank in range(2):
        batches = DeviceBatches(data, 5, torch.device("cpu"), rank=rank, world=2)
        assert len(batches) == 4
        for images, _ in batches.epoch(1):
            identities += [tuple(image[:, 0, 0].tolist()) for image in images]
    assert len(identities) == 40 and len(set(identities)) == 40


def test_too_little_data_and_transformed_items_are_clear_errors():
    with pytest.raises(ValueError, match="do not make one batch"):
        DeviceBatches(_cache(7), 4, torch.device("cpu"), world=2)
    data = CachedImages(_cache().images, _cache().labels, transform=lambda x: x.float())
    with pytest.raises(ValueError, match="DataLoader path"):
        DeviceBatches(data, 4, torch.device("cpu"))
