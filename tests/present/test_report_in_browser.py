"""The HTML report as a person sees it, in a real headless Chromium: every figure loads,
clicking a column header sorts the rows by number, and nothing is wider than a 1400 px window.

Chromium comes from the distribution (`apt-get install chromium`; `make test` installs it
where it can) and is driven by playwright-python with that executable, so no browser is
downloaded. Where either is missing the test is skipped and says which.
"""

from __future__ import annotations

import shutil

import pytest
from test_report_page import failed, make_db, record

from harness.present.report import write_report

WIDTH = 1400
pytestmark = pytest.mark.slow  # the report's figures take a few seconds to draw


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (apt-get install chromium; `make test` tries it)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    browser_path = _chromium()
    tmp = tmp_path_factory.mktemp("browser")
    # step times whose text order differs from their numeric order: 500, 2000, 10000 ms
    rows = [
        record("resnet18", "imagenet", 69.758, step_s=2.0),
        record("alexnet", "imagenet", 56.522, step_s=10.0, provenance="estimated-tdp"),
        record("vgg16", "imagenet", 71.592, step_s=0.5),
        failed("bert_base_squad", "error", "time: RuntimeError: CUDA out of memory " * 6),
    ]
    paths = write_report(make_db(tmp / "r.sqlite", rows), tmp / "out")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": WIDTH, "height": 900})
            tab.goto(paths.html.as_uri(), wait_until="load")
            yield tab
        finally:
            browser.close()


def test_every_figure_loads(page):
    images = page.evaluate(
        "[...document.images].map(i => ({src: i.src, ok: i.complete, w: i.naturalWidth}))"
    )
    assert len(images) >= 3
    broken = [i["src"] for i in images if not (i["ok"] and i["w"] > 0)]
    assert not broken, f"figures that did not load: {broken}"


def _column(page, header: str) -> list[str]:
    return page.evaluate(
        """(header) => {
        const table = document.querySelector('table.sortable');
        const i = [...table.tHead.rows[0].cells].findIndex(c => c.textContent === header);
        return [...table.tBodies[0].rows].map(r => r.cells[i].dataset.v);
    }""",
        header,
    )


def test_clicking_a_header_sorts_rows_numerically(page):
    header = "median step (ms)"
    page.locator("table.sortable").first.locator("th", has_text=header).click()
    values = [float(v) for v in _column(page, header) if v not in ("", "None")]
    assert values == sorted(values) and values == [500.0, 2000.0, 10000.0]
    page.locator("table.sortable").first.locator("th", has_text=header).click()
    values = [float(v) for v in _column(page, header) if v not in ("", "None")]
    assert values == [10000.0, 2000.0, 500.0]


def test_nothing_overflows_a_1400_px_window(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        f"""[...document.body.querySelectorAll('*')]
        .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > {WIDTH})
        .map(e => e.tagName + ' ' + e.textContent.slice(0, 60))"""
    )
    assert width <= WIDTH, f"page is {width} px wide: {wide[:5]}"
