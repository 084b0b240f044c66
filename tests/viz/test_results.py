import pytest

from fgssl.viz.results import label_efficiency


def _row(method, protocol, labels, top1):
    return {"method": method, "protocol": protocol, "labels": labels, "top1_mean": top1,
            "top1_std": 0.01}


def test_one_panel_per_protocol_with_a_line_per_method_and_the_floor():
    rows = [_row("simclr", "linear", 1.0, 0.3), _row("simclr", "linear", 0.1, 0.15),
            _row("random", "linear", 1.0, 0.08), _row("scratch", "finetune", 0.1, 0.09),
            _row("majority class", "floor", 1.0, 0.042),
            _row("majority class", "floor", 0.1, 0.042)]
    figure = label_efficiency(rows)
    linear, end_to_end = figure.axes
    assert linear.get_title().startswith("linear probe")
    assert end_to_end.get_title().startswith("end to end")
    assert sorted(linear.get_legend_handles_labels()[1]) == ["majority class", "random",
                                                             "simclr"]
    assert sorted(end_to_end.get_legend_handles_labels()[1]) == ["majority class", "scratch"]
    assert linear.get_xscale() == "log"


def test_nothing_to_plot_is_a_clear_error():
    with pytest.raises(ValueError, match="no rows"):
        label_efficiency([_row("majority class", "floor", 1.0, 0.04)])


def test_every_method_of_a_full_demo_gets_a_line_of_its_own_colour():
    methods = [f"method{i}" for i in range(16)]  # the demo's rows, all asked for
    figure = label_efficiency([_row(m, "linear", 1.0, 0.1 + i / 100)
                               for i, m in enumerate(methods)])
    handles, labels = figure.axes[0].get_legend_handles_labels()
    assert labels == methods
    colours = [tuple(handle.lines[0].get_color()) for handle in handles]
    assert len(set(colours[:16])) == 16
