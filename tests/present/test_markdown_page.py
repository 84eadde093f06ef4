"""report.md: text from users' files cannot break a table row or inject markup."""

from __future__ import annotations

from pathlib import Path

from harness.present.markdown_page import markdown_table, md_link, md_text


def test_markup_characters_are_escaped_and_lines_joined():
    assert md_text("a|b\nc`d<e>&f*g\\h") == "a\\|b c\\`d&lt;e&gt;&amp;f\\*g\\\\h"
    assert md_text("resnet_18 [rapl]") == "resnet_18 [rapl]"  # left readable


def test_every_row_keeps_its_column_count():
    table = markdown_table(["name", "error"], [[("x|y\nz", None, ""), ("a \\| b", None, "")]])
    rows = table.splitlines()
    assert len(rows) == 3
    # an unescaped pipe separates cells; an escaped one (odd run of backslashes) does not
    counts = {len([i for i, c in enumerate(r) if c == "|" and _unescaped(r, i)]) for r in rows}
    assert counts == {3}


def _unescaped(text: str, i: int) -> bool:
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 0


def test_links_are_percent_encoded():
    assert md_link(Path("figures/scaling (a).png")) == "figures/scaling%20%28a%29.png"
