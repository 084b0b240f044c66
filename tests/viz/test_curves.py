import matplotlib
import numpy as np
import pytest
import torch

from fgssl.viz.curves import bar_chart, histogram, panels, plot_history, similarity_matrix

matplotlib.use("Agg")


def test_history_curves_skip_records_without_the_key_and_draw_reference_lines():
    history = [{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": 2.0, "knn": 0.2},
               {"epoch": 3, "loss": 1.5}, {"epoch": 4, "loss": 1.2, "knn": 0.3}]
    _, (left, right) = panels(2)
    plot_history(left, history, {"loss": "loss"}, title="pretext")
    plot_history(right, history, {"kNN": "knn"}, hlines={"chance": 0.04},
                 vlines={"switch": 2.5}, ylabel="top-1")
    (loss,) = left.get_lines()
    assert list(loss.get_xdata()) == [1, 2, 3, 4] and left.get_title() == "pretext"
    knn, chance, switch = right.get_lines()
    assert list(knn.get_xdata()) == [2, 4] and list(knn.get_ydata()) == [0.2, 0.3]
    assert list(chance.get_ydata()) == [0.04, 0.04] and list(switch.get_xdata()) == [2.5, 2.5]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["kNN", "chance", "switch"]
    assert right.get_xlabel() == "epoch" and right.get_ylabel() == "top-1"


def test_grouped_bars_put_each_group_beside_the_others():
    _, (ax,) = panels(1)
    bar_chart(ax, {"a": {"beak": 0.5, "tail": 0.7}, "b": {"beak": 0.4, "tail": 0.9}},
              ylim=(0, 1))
    bars = ax.patches
    assert [round(b.get_height(), 2) for b in bars] == [0.5, 0.7, 0.4, 0.9]
    assert bars[0].get_x() < bars[2].get_x() < bars[1].get_x()  # a, b at beak; then tail
    assert [t.get_text() for t in ax.get_xticklabels()] == ["beak", "tail"]


def test_histograms_of_named_samples():
    _, (ax,) = panels(1)
    histogram(ax, {"x": np.array([1, 2, 2, 3]), "y": [3, 3, 3]}, bins=[0.5, 1.5, 2.5, 3.5],
              yscale="log")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y"]
    assert [p.get_height() for p in ax.patches] == [1, 2, 1, 0, 0, 3]
    assert ax.get_yscale() == "log"


def test_the_similarity_matrix_rings_each_view_s_partner_and_blanks_the_diagonal():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    z2 = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    _, (ax,) = panels(1)
    similarity_matrix(ax, z1, z2)
    shown = ax.images[0].get_array()
    blank = np.ma.getmaskarray(shown) | np.isnan(np.ma.getdata(shown))
    assert shown.shape == (6, 6) and blank.diagonal().all() and blank.sum() == 6
    assert shown[0, 3] == pytest.approx(1.0) and shown[1, 0] == pytest.approx(0.0)  # cosines
    assert shown[2, 5] == pytest.approx(-2 ** -0.5)
    ringed = ax.collections[0].get_offsets()  # (column, row) of each row's positive
    assert [tuple(map(int, point)) for point in ringed] == [(3, 0), (4, 1), (5, 2), (0, 3),
                                                            (1, 4), (2, 5)]
