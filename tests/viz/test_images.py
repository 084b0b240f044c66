import matplotlib

matplotlib.use("Agg")

import numpy as np
import torch

from fgssl.viz.images import as_hwc_uint8, batch_views_grid, show_images, synthbirds_siblings


def test_as_hwc_uint8_accepts_chw_tensors_and_floats():
    chw = torch.zeros(2, 3, 5, 7, dtype=torch.uint8)
    assert as_hwc_uint8(chw).shape == (2, 5, 7, 3)
    floats = np.full((1, 4, 4, 3), 0.5, np.float32)
    assert as_hwc_uint8(floats).dtype == np.uint8 and as_hwc_uint8(floats)[0, 0, 0, 0] == 128


def test_show_images_draws_boxes_keypoints_and_titles():
    images = np.zeros((3, 8, 8, 3), np.uint8)
    fig = show_images(images, titles=["a", "b", "c"], ncols=2,
                      boxes=np.array([[1, 1, 6, 6]] * 3),
                      keypoints=np.ones((3, 2, 2)), keypoint_names=["beak", "eye"])
    axes = fig.axes
    assert len(axes) == 4 and [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert len(axes[0].patches) == 1 and len(axes[0].lines) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["beak", "eye"]


def test_sibling_gallery_shows_pairs_side_by_side():
    fig = synthbirds_siblings(size=32, pairs=[0, 3])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["01a", "01a", "01b", "01b", "04a", "04a", "04b", "04b"]


def test_augmentation_gallery_one_row_per_augmentation():
    from fgssl.transforms import SimCLRViews, jigsaw_shuffle
    from fgssl.viz.images import augmentation_gallery

    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    fig = augmentation_gallery(image, {"standard": SimCLRViews(32),
                                       "jigsaw": lambda x: jigsaw_shuffle(x.float() / 255)},
                               samples=3)
    assert [ax.get_title() for ax in fig.axes[::4]] == ["standard", "jigsaw"]
    shown = fig.axes[1].images[0].get_array()
    assert shown.shape == (32, 32, 3) and shown.min() >= 0 and shown.max() <= 255


def test_sample_photo_is_a_square_uint8_image_and_none_without_sample_data(monkeypatch):
    from matplotlib import cbook

    from fgssl.viz.images import sample_photo

    photo = sample_photo(48)  # matplotlib's wheels ship their sample data
    assert photo.shape == (3, 48, 48) and photo.dtype == torch.uint8 and photo.float().std() > 10

    def missing(*args, **kwargs):
        raise FileNotFoundError("no sample data")

    monkeypatch.setattr(cbook, "get_sample_data", missing)
    assert sample_photo(48) is None


def test_sr_comparison_titles_each_upscaling_with_its_psnr():
    from fgssl.viz.images import sr_comparison

    high = torch.rand(3, 3, 16, 16)
    outputs = {"lr": high[..., ::4, ::4], "bicubic": high.clamp(0.1, 0.9), "sr": high,
               "hr": high}
    fig = sr_comparison(outputs, count=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 8 and titles[0] == "LR" and titles[3] == "HR"
    assert titles[1].startswith("bicubic ") and titles[1].endswith(" dB")
    assert titles[2] == "SR 100.0 dB"  # identical to HR: the capped PSNR
    assert fig.axes[0].images[0].get_array().shape == (16, 16, 3)  # LR drawn at the HR size


def test_heatmaps_draw_the_map_over_each_image():
    from fgssl.viz.images import heatmaps

    fig = heatmaps(np.zeros((2, 8, 8, 3), np.uint8), torch.rand(2, 8, 8),
                   keypoints=np.ones((2, 3, 2)))
    assert [len(ax.images) for ax in fig.axes] == [2, 2]
    assert len(fig.axes[0].lines) == 1


def test_batch_views_grid_shows_each_image_above_its_own_two_views():
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    fig = batch_views_grid(images, seed=1)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["image 1", "image 2", "image 3"] + ["view 1"] * 3 + ["view 2"] * 3
    drawn = [ax.images[0].get_array() for ax in fig.axes]
    assert np.array_equal(drawn[0], as_hwc_uint8(images)[0])
    assert not np.array_equal(drawn[3], drawn[6])  # the two views of image 1 differ
