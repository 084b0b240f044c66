import numpy as np
import pytest

from fgssl.config import profile
from fgssl.evaluate.comparison import (
    floor_rows,
    label_fractions,
    low_label_fraction,
    markdown_table,
    rows_from_results,
    study_jobs,
    top1_of,
)
from fgssl.evaluate.protocol import Job


def test_the_low_label_point_gives_every_class_at_most_ten_images():
    from fgssl.data.splits import label_subset

    labels = np.repeat(np.arange(4), [100, 80, 100, 30])
    fraction = low_label_fraction(labels, per_class=10)
    assert fraction == 0.1
    counts = np.bincount(labels[label_subset(labels, fraction=fraction, seed=3)])
    assert counts.max() == 10 and counts.min() >= 1
    assert low_label_fraction(np.repeat(np.arange(3), 8)) == 0.5  # never above half


def test_the_table_has_a_line_per_method_and_a_column_per_protocol_and_budget():
    rows = [{"method": "SimCLR", "protocol": "linear", "labels": 1.0, "top1_mean": 0.288,
             "top1_std": 0.025}, {"method": "random", "protocol": "linear", "labels": 0.1,
                                  "top1_mean": 0.07, "top1_std": 0.0}]
    table = markdown_table(rows).splitlines()
    assert table[0] == "| method | linear, 100% labels | linear, 10% labels |"
    assert table[2] == "| SimCLR | 28.8 ± 2.5 | – |"
    assert table[3] == "| random | – | 7.0 ± 0.0 |"


def test_the_floor_fills_every_column_of_its_budget_and_columns_go_from_most_labels():
    rows = [{"method": "A", "protocol": "finetune", "labels": 0.1, "top1_mean": 0.2,
             "top1_std": 0.01},
            {"method": "A", "protocol": "knn", "labels": 1.0, "top1_mean": 0.3, "top1_std": 0},
            {"method": "A", "protocol": "linear", "labels": 0.1, "top1_mean": 0.1,
             "top1_std": 0},
            {"method": "majority class", "protocol": "floor", "labels": 0.1,
             "top1_mean": 0.042, "top1_std": 0.0}]
    table = markdown_table(rows).splitlines()
    assert table[0] == ("| method | kNN, 100% labels | linear, 10% labels | "
                        "end to end, 10% labels |")
    assert table[3] == "| majority class | – | 4.2 ± 0.0 | 4.2 ± 0.0 |"


def test_rows_summarise_each_protocol_and_budget_over_seeds_and_floors_come_from_results():
    results = [{"protocol": "linear", "labels": 0.5, "seed": s, "top1": t,
                "mean_per_class_acc": t, "macro_f1": t, "C": 0.1, "n_train": 10, "n_test": 20,
                "majority_floor": f} for s, t, f in ((0, 0.2, 0.05), (1, 0.4, 0.10))]
    (row,) = rows_from_results("m", results, wall_s=1.25)
    assert row["top1_mean"] == pytest.approx(0.3) and row["top1_std"] == pytest.approx(0.1414,
                                                                                       abs=1e-4)
    assert row["seeds"] == 2 and row["chosen_on_val"] == [{"C": 0.1}, {"C": 0.1}]
    (floor,) = floor_rows(results)
    assert floor["protocol"] == "floor" and floor["top1_mean"] == pytest.approx(0.075)
    assert top1_of([row, floor], "m", "linear", 0.5) == row["top1_mean"]
    assert np.isnan(top1_of([row], "m", "knn", 0.5))


def test_study_jobs_and_budgets():
    jobs = study_jobs((1.0, 0.1), seeds=2, finetune_at=(0.1,))
    assert len(jobs) == 2 * 2 * 2 + 2 and jobs[-1] == Job("finetune", 0.1, 1)
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        study_jobs((1.0,), seeds=0)
    labels = np.repeat(np.arange(24), 100)
    assert label_fractions(labels, profile("cpu")) == (1.0, 0.3, 0.1)
    assert label_fractions(np.repeat(np.arange(24), 8), profile("ci")) == (1.0, 0.5)


def test_the_sibling_table_shows_each_part_for_the_all_labels_probes():
    from fgssl.evaluate.comparison import rows_from_results, sibling_table

    def result(seed, accuracies):
        pairs = [{"pair": [2 * i, 2 * i + 1], "part": part, "accuracy": a}
                 for i, (part, a) in enumerate(accuracies)]
        return {"protocol": "linear", "labels": 1.0, "seed": seed, "top1": 0.5,
                "mean_per_class_acc": 0.5, "macro_f1": 0.5, "n_train": 10, "n_test": 10,
                "majority_floor": 0.1, "C": 1.0, "sibling_pairs": pairs,
                "sibling_accuracy": sum(a for _, a in accuracies) / len(accuracies)}

    rows = rows_from_results("simclr", [result(0, [("beak", 0.6), ("tail", 1.0)]),
                                        result(1, [("beak", 0.8), ("tail", 1.0)])], 0.0)
    assert rows[0]["sibling_by_part"] == {"beak": 0.7, "tail": 1.0}
    assert rows[0]["sibling_accuracy_mean"] == 0.85
    assert sibling_table(rows).splitlines() == ["| method | beak | tail | mean |",
                                                "|---|---|---|---|",
                                                "| simclr | 70 | 100 | 85.0 |"]
    assert sibling_table([{**rows[0], "labels": 0.5}]) == ""  # all labels only
