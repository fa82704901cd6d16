from matplotlib.figure import Figure

from seqvae.plotting import save_figure


def _figure() -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [3.0, 1.0, 2.0], marker="o", label="a")
    ax.legend()
    return fig


def test_a_figure_drawn_again_from_the_same_data_is_the_same_bytes(tmp_path):
    first = save_figure(_figure(), tmp_path / "first", "curves")
    second = save_figure(_figure(), tmp_path / "second", "curves")
    assert [p.suffix for p in first] == [".png", ".svg"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert b"<dc:date>" not in first[1].read_bytes()
