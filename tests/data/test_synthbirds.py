import itertools

import numpy as np
import pytest

from fgssl.data import bird_drawing
from fgssl.data import synthbirds as sb


def test_species_are_distinct_and_come_in_single_part_sibling_pairs():
    assert sb.NUM_CLASSES >= 20
    vectors = [tuple(p[part] for part in sb.PARTS) for p in sb.SPECIES_PARTS]
    assert len(set(vectors)) == sb.NUM_CLASSES
    for label in range(sb.NUM_CLASSES):
        sibling = sb.sibling_of(label)
        differing = [part for part in sb.PARTS
                     if sb.SPECIES_PARTS[label][part] != sb.SPECIES_PARTS[sibling][part]]
        assert len(differing) == 1, (label, differing)
    # every part is what separates at least one sibling pair
    separating = {next(part for part in sb.PARTS
                       if sb.SPECIES_PARTS[2 * p][part] != sb.SPECIES_PARTS[2 * p + 1][part])
                  for p in range(sb.NUM_CLASSES // 2)}
    assert separating == set(sb.PARTS)
    for part in sb.PARTS:
        assert all(p[part] in sb.PART_CHOICES[part] for p in sb.SPECIES_PARTS)


def test_non_siblings_differ_in_at_least_two_parts():
    for a, b in itertools.combinations(range(sb.NUM_CLASSES), 2):
        if b == sb.sibling_of(a):
            continue
        differing = sum(sb.SPECIES_PARTS[a][p] != sb.SPECIES_PARTS[b][p] for p in sb.PARTS)
        assert differing >= 2, (a, b)


def test_rendering_is_deterministic_per_seed_split_and_index():
    birds = sb.SynthBirds(seed=0)
    one = birds.render("train", [5, 6, 7], 32)
    again = birds.render("train", [7, 5, 6], 32)
    assert np.array_equal(one.images[0], again.images[1])
    assert np.array_equal(one.images[2], again.images[0])
    # an image does not depend on the batch it was rendered in
    alone = birds.render("train", [6], 32)
    assert np.array_equal(alone.images[0], one.images[1])
    assert np.array_equal(alone.keypoints[0], one.keypoints[1])
    assert not np.array_equal(sb.SynthBirds(seed=1).render("train", [5], 32).images[0],
                              one.images[0])
    assert not np.array_equal(birds.render("test", [5], 32).images[0], one.images[0])


def test_render_shapes_labels_and_sizes():
    birds = sb.SynthBirds()
    for size in (16, 32, 64, 96):
        batch = birds.render("val", range(30), size)
        assert batch.images.shape == (30, size, size, 3) and batch.images.dtype == np.uint8
        assert batch.boxes.shape == (30, 4)
        assert batch.keypoints.shape == (30, len(sb.KEYPOINT_NAMES), 2)
    assert batch.labels.tolist() == [i % sb.NUM_CLASSES for i in range(30)]
    assert np.array_equal(birds.labels("val", range(30)), batch.labels)
    pool = birds.labels("unlabelled", range(2400))
    assert set(np.unique(pool)) == set(range(sb.NUM_CLASSES))
    with pytest.raises(ValueError, match="unknown SynthBirds split"):
        birds.render("training", [0], 32)
    with pytest.raises(ValueError, match="at least 8 px"):
        birds.render("train", [0], 4)


def test_boxes_contain_the_keypoints_and_scale_with_size():
    birds = sb.SynthBirds()
    small, large = birds.render("test", range(20), 32), birds.render("test", range(20), 128)
    for batch, size in ((small, 32), (large, 128)):
        x0, y0, x1, y1 = batch.boxes.T
        assert np.all((x0 >= 0) & (y0 >= 0) & (x1 <= size) & (y1 <= size) & (x1 > x0))
        assert np.all((x1 - x0) > 0.4 * size)  # the bird is big enough to see its parts
        kx, ky = batch.keypoints[..., 0], batch.keypoints[..., 1]
        inside = (kx >= x0[:, None] - 1) & (kx <= x1[:, None] + 1) \
            & (ky >= y0[:, None] - 1) & (ky <= y1[:, None] + 1)
        assert inside.mean() > 0.95
    assert np.allclose(small.keypoints * 4, large.keypoints, atol=1e-3)


def test_keypoints_land_on_their_parts():
    """The beak keypoint has the species' beak colour; the eye keypoint is dark."""
    birds = sb.SynthBirds()
    batch = birds.render("test", range(48), 128)
    beak_ok = 0
    for image, label, points in zip(batch.images, batch.labels, batch.keypoints, strict=True):
        x, y = np.round(points[sb.KEYPOINT_NAMES.index("beak")]).astype(int)
        colour = image[y, x].astype(float) / 255
        expected = np.array(bird_drawing.BEAK_RGB[sb.SPECIES_PARTS[label]["beak_colour"]])
        beak_ok += np.abs(colour - expected).max() < 0.35
        ex, ey = np.floor(points[sb.KEYPOINT_NAMES.index("eye")]).astype(int)
        assert image[ey, ex].mean() < 90
    assert beak_ok >= 40  # colour cast and lighting shift the colour a little


def test_sibling_images_differ_only_near_the_differing_part():
    """Same nuisances, sibling species: the pixels that change sit around that part."""
    birds = sb.SynthBirds()
    pair = 2  # 03a/03b differ in wing bars
    rng_draw = birds._draw_parameters
    a = birds.render("test", [2 * pair], 64)
    # render the sibling with the very same nuisance draw
    birds._draw_parameters = lambda split, i: (2 * pair + 1, rng_draw(split, i)[1])
    b = birds.render("test", [2 * pair], 64)
    changed = np.abs(a.images[0].astype(int) - b.images[0].astype(int)).max(axis=-1) > 30
    assert changed.any()
    ys, xs = np.nonzero(changed)
    wing = a.keypoints[0, sb.KEYPOINT_NAMES.index("wing")]
    assert np.hypot(xs - wing[0], ys - wing[1]).max() < 0.3 * 64
    assert changed.mean() < 0.05


def test_describe_names_every_part():
    text = sb.describe(1)
    assert text.startswith("01b:") and "red crown" in text


def test_differing_part_names_the_sibling_difference():
    for label in range(sb.NUM_CLASSES):
        part = sb.differing_part(label)
        assert part == sb.differing_part(sb.sibling_of(label))
        assert sb.SPECIES_PARTS[label][part] != sb.SPECIES_PARTS[sb.sibling_of(label)][part]
    assert {sb.differing_part(2 * p) for p in range(12)} & set(sb.COLOUR_PARTS) == \
        set(sb.COLOUR_PARTS)


def test_beak_and_tail_stay_in_the_frame():
    """The parts at the bird's ends decide some species: they must not be cut off."""
    boxes = sb.SynthBirds().render("train", range(400), 64).boxes
    touching = (boxes[:, 0] == 0) | (boxes[:, 2] == 64)
    assert touching.mean() < 0.03


def test_part_labels_index_each_species_part_option():
    labels = np.arange(sb.NUM_CLASSES)
    beak = sb.part_labels(labels, "beak_colour")
    assert [sb.PART_CHOICES["beak_colour"][i] for i in beak] == \
        [sb.SPECIES_PARTS[label]["beak_colour"] for label in labels]
    with pytest.raises(ValueError, match="unknown part 'wings'"):
        sb.part_labels(labels, "wings")


def test_discriminative_points_are_the_keypoints_of_the_part_a_sibling_changes():
    batch = sb.SynthBirds().render("test", range(48), 32)
    points = sb.discriminative_points(batch.labels, batch.keypoints)
    assert points.shape == (48, 2)
    crown, beak = sb.KEYPOINT_NAMES.index("crown"), sb.KEYPOINT_NAMES.index("beak")
    for i, label in enumerate(batch.labels):
        part = sb.differing_part(int(label))
        if part == "crown":
            assert np.array_equal(points[i], batch.keypoints[i, crown])
        if part in ("beak_shape", "beak_colour"):
            assert np.array_equal(points[i], batch.keypoints[i, beak])
    assert set(sb.PART_KEYPOINT) == set(sb.PARTS)
    assert set(sb.PART_KEYPOINT.values()) == set(sb.KEYPOINT_NAMES)
