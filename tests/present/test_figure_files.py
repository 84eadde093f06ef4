"""Every figure is saved by one helper: PNG and SVG, a footer that fits, no timestamp."""

from __future__ import annotations

from matplotlib.figure import Figure

from harness.present.figure_files import FOOTER_CHARS_PER_INCH, save_figure, wrap_footer


def test_png_and_svg_with_the_footer_and_no_date(tmp_path):
    fig = Figure(figsize=(4, 3))
    fig.subplots().plot([1, 2], [3, 4])
    paths = save_figure(fig, tmp_path / "x.y", "device(s): Test GPU | energy provenance: rapl")
    assert [p.name for p in paths] == ["x.y.png", "x.y.svg"]  # a dot in the stem is kept
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    svg = paths[1].read_text()
    assert "Test GPU" in svg and "<dc:date>" not in svg


def test_long_footers_are_wrapped_to_the_figure_width():
    text = "word " * 100
    lines = wrap_footer(text, 7).split("\n")
    assert len(lines) > 1
    assert all(len(line) <= FOOTER_CHARS_PER_INCH * 7 for line in lines)
    assert wrap_footer("short\nsecond", 7) == "short\nsecond"
