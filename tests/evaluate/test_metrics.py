import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from fgssl.evaluate.metrics import classification_metrics, confusion, majority_floor


def test_confusion_rows_are_true_classes():
    matrix = confusion(true=[0, 0, 0, 1], predicted=[1, 1, 0, 1], num_classes=3)
    assert matrix.tolist() == [[1, 2, 0], [0, 1, 0], [0, 0, 0]]  # row 0: two 0s called 1


def test_metrics_on_an_imbalanced_example():
    true = np.array([0] * 8 + [1] * 2)
    predicted = np.zeros(10, dtype=int)  # always the majority class
    result = classification_metrics(true, predicted, num_classes=2)
    assert result["top1"] == pytest.approx(0.8)
    assert result["mean_per_class_acc"] == pytest.approx(0.5)  # 100% and 0%
    assert result["macro_f1"] == pytest.approx(f1_score(true, predicted, average="macro"))


def test_majority_floor_and_bad_input():
    assert majority_floor([2, 2, 1], [2, 0, 2, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal-length"):
        classification_metrics([0, 1], [0])


def test_alignment_and_uniformity_match_their_definitions():
    import torch

    from fgssl.evaluate.metrics import alignment, uniformity

    torch.manual_seed(0)
    z1, z2 = torch.randn(12, 5), torch.randn(12, 5)
    a = z1 / z1.norm(dim=1, keepdim=True)
    b = z2 / z2.norm(dim=1, keepdim=True)
    expected_alignment = sum(float((a[i] - b[i]).norm() ** 2) for i in range(12)) / 12
    assert alignment(z1, z2) == pytest.approx(expected_alignment, rel=1e-5)
    pairs = [float(torch.exp(-2 * (a[i] - a[j]).norm() ** 2))
             for i in range(12) for j in range(12) if i < j]
    assert uniformity(z1) == pytest.approx(np.log(np.mean(pairs)), rel=1e-5)
    assert alignment(z1, z1) == pytest.approx(0.0, abs=1e-6)
    collapsed = torch.ones(12, 5)
    assert uniformity(collapsed) == pytest.approx(0.0, abs=1e-6)  # everything in one point


def test_summarise_reports_mean_sample_std_and_values():
    from fgssl.evaluate.metrics import summarise

    assert summarise([0.2, 0.4]) == {"mean": 0.3, "std": 0.1414, "n": 2, "values": [0.2, 0.4]}
    assert summarise([0.5])["std"] == 0.0
    with pytest.raises(ValueError, match="no values"):
        summarise([])


def test_sibling_accuracy_is_the_two_way_choice_within_each_pair():
    from fgssl.evaluate.metrics import sibling_accuracy

    true = np.array([0, 0, 1, 1, 2, 3])
    scores = np.array([[5, 1, 9, 0],   # class 0: beats its sibling 1 (the 9 for 2 is no matter)
                       [1, 2, 0, 0],   # class 0: loses to 1
                       [0, 3, 0, 0],   # class 1: beats 0
                       [0, 3, 0, 0],   # class 1: beats 0
                       [0, 0, 1, 2],   # class 2: loses to 3
                       [0, 0, 1, 2]])  # class 3: beats 2
    found = sibling_accuracy(scores, true, [(0, 1), (2, 3), (4, 5)])
    assert found["pairs"] == [{"pair": [0, 1], "accuracy": 0.75},
                              {"pair": [2, 3], "accuracy": 0.5}]  # (4, 5): no images
    assert found["mean"] == pytest.approx(0.625)


def test_effective_rank_matches_its_definition_and_sees_collapse():
    from fgssl.evaluate.metrics import effective_rank

    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 16, generator=g, dtype=torch.float64) @ torch.diag(
        torch.linspace(0.1, 2.0, 16, dtype=torch.float64))
    centred = (z - z.mean(0)).numpy()
    singular = np.linalg.svd(centred, compute_uv=False)
    p = singular / singular.sum()
    assert effective_rank(z) == pytest.approx(float(np.exp(-(p * np.log(p)).sum())), rel=1e-9)
    one_line = torch.randn(200, 1, generator=g) * torch.randn(1, 16, generator=g)
    assert effective_rank(one_line) == pytest.approx(1.0, abs=1e-3)  # collapsed to a line
    assert effective_rank(torch.randn(400, 8, generator=g)) > 7.5  # isotropic: close to D
