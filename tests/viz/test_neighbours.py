import numpy as np
import pytest

from fgssl.viz.neighbours import neighbour_grid, ranked_neighbours, retrieval_metrics


def _brute_force(features, labels, ks):
    """Recall@k and mAP@R written from their definitions, one query at a time."""
    x = features / np.linalg.norm(features, axis=1, keepdims=True)
    recalls, average_precisions = {k: [] for k in ks}, []
    for q in range(len(x)):
        others = [i for i in range(len(x)) if i != q]
        order = sorted(others, key=lambda i: -float(x[q] @ x[i]))
        hits = [labels[i] == labels[q] for i in order]
        for k in ks:
            recalls[k].append(any(hits[:k]))
        r = sum(hits)
        if r:
            precision_sum = sum(sum(hits[:i + 1]) / (i + 1) for i in range(r) if hits[i])
            average_precisions.append(precision_sum / r)
    return {**{f"recall@{k}": float(np.mean(recalls[k])) for k in ks},
            "map@r": float(np.mean(average_precisions))}


def test_metrics_match_a_brute_force_reference():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 60)
    features = rng.normal(size=(60, 8)) + 1.5 * np.eye(8)[labels]  # somewhat clustered
    ours = retrieval_metrics(features, labels, ks=(1, 3, 10))
    reference = _brute_force(features, labels, (1, 3, 10))
    assert ours == pytest.approx(reference, abs=1e-6)
    assert 0 < ours["map@r"] < ours["recall@10"] <= 1


def test_perfect_and_hopeless_representations():
    labels = np.repeat([0, 1, 2], 4)
    perfect = np.eye(3)[labels] + 1e-3 * np.random.default_rng(1).normal(size=(12, 3))
    assert retrieval_metrics(perfect, labels) == {"recall@1": 1.0, "recall@5": 1.0,
                                                  "map@r": pytest.approx(1.0)}
    swapped = np.eye(3)[(labels + 1) % 3]  # every image looks like the next class ...
    swapped[::4] = np.eye(3)[labels[::4]]  # ... but one per class: one right neighbour each
    assert retrieval_metrics(swapped, labels, ks=(1,))["recall@1"] < 0.5


def test_an_image_is_never_its_own_neighbour_and_the_grid_marks_mistakes():
    features = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
    index, similarity = ranked_neighbours(features)
    assert index.tolist() == [[1, 2], [0, 2], [1, 0]]
    assert similarity[0, 0] > similarity[0, 1]
    images = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    figure = neighbour_grid(images, features, np.array([0, 1, 1]), queries=[0, 1], k=2)
    first_neighbour = figure.axes[1]  # query 0's nearest is image 1, another class
    assert first_neighbour.spines["top"].get_edgecolor()[:3] == (1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least two"):
        ranked_neighbours(features[:1])
