"""The report as a reader sees it: opened in headless Debian Chromium (DevTools protocol over a
pipe, tests/cdp_pipe.py) and printed to PDF pages with pdftoppm (Debian poppler-utils).

Without chromium or pdftoppm these tests are skipped, and fail under CI=true
(.ci/install-report-tools installs both). Screenshots go to $PILOTTRIAL_SCREENSHOTS when set
(e.g. results/ketamine-ptsd-demo/screenshots, which the manifest ignores), else to a temporary
folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cdp_pipe import Browser, find_chromium
from demo_report import demo_report
from PIL import Image

from pilottrial.report.document import fmt_ci, fmt_num
from pilottrial.report.figures.outcomes import arm_colours
from pilottrial.report.pdf import write_pdf

SECTIONS = ["summary", "flow", "baseline", "feasibility", "outcomes", "sensitivity", "missing-data", "harms",
            "limitations", "diagnostics", "reproduce"]


def _require(tool: str, found: str | None) -> str:
    if found:
        return found
    reason = f"{tool} not found (Debian: bash .ci/install-report-tools)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def demo():
    return demo_report()


@pytest.fixture(scope="module")
def report_file(demo, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "report.html"
    path.write_text(demo.html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("PILOTTRIAL_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def page_state(report_file, shots):
    """Open the report once: what the tests check, gathered in one browser session."""
    chromium = _require("chromium", find_chromium())
    with Browser(chromium) as browser:
        page = browser.new_page(width=1280, height=900)
        page.goto(report_file.as_uri())
        state = {
            "images": page.evaluate(
                "Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth,"
                " height: i.naturalHeight, alt: i.alt, shown: i.getBoundingClientRect().width}))"),
            "text": page.evaluate("document.body.innerText"),
            "requests": page.requested_urls(),
            "overflow": page.evaluate(
                "Array.from(document.querySelectorAll('section')).filter(s => s.scrollWidth > s.clientWidth + 2)"
                ".map(s => s.id)"),
        }
        state["screenshots"] = [page.screenshot_element(f"#{sid}", shots / f"screen-{sid}.png")
                                for sid in SECTIONS]
        page.emulate_media("print")
        state["print_break"] = page.evaluate(
            "getComputedStyle(document.querySelector('.part')).breakBefore")
        state["screenshots"].append(page.screenshot(shots / "print-media-top.png"))
    return state


def test_every_image_loads(page_state, demo):
    images = page_state["images"]
    assert len(images) == len(demo.figures)
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image["alt"]
        assert image["shown"] > 200 and image["alt"].startswith("Figure ")


def test_no_nan_none_inf_is_shown(page_state):
    # the config listing is literal YAML (``null`` is a value there): check the text before it
    text = page_state["text"].split("A.7 Configuration as used")[0]
    for word in ("nan", "none", "inf", "infinity", "undefined", "NaT", "<NA>"):
        assert not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags=re.IGNORECASE), word


def test_key_numbers_of_contrasts_csv_are_shown(page_state, demo):
    contrasts = demo.tables["contrasts"]
    text = page_state["text"]
    for visit in ("24h", "30d"):
        row = contrasts[(contrasts.outcome == "CAPS-5") & (contrasts.model == "mmrm") & (contrasts.visit == visit)].iloc[0]
        assert f"difference in mean change {fmt_num(row.estimate)} points" in text
        assert f"95% CI {fmt_ci(row.ci_lower, row.ci_upper)}" in text
        assert f"{fmt_num(row.estimate)} ({fmt_ci(row.ci_lower, row.ci_upper)})" in text  # the table cell


def test_no_network_requests(page_state):
    assert page_state["requests"], "no request recorded at all"
    assert all(url.startswith(("file:", "data:")) for url in page_state["requests"]), page_state["requests"]


def test_sections_fit_the_window_and_print_breaks_pages(page_state):
    assert not page_state["overflow"]
    assert page_state["print_break"] == "page"


def test_screenshots_show_content(page_state):
    for path in page_state["screenshots"]:
        pixels = np.asarray(Image.open(path).convert("L"))
        assert pixels.shape[0] > 100 and pixels.shape[1] > 600
        assert (pixels < 128).mean() > 0.005, f"{path.name} is blank"


# ---- PDF pages --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pdf_pages(report_file, shots, demo):
    pdftoppm = _require("pdftoppm", shutil.which("pdftoppm"))
    target = write_pdf(report_file, report_file.with_suffix(".pdf"))
    prefix = shots / "pdf-page"
    for old in shots.glob("pdf-page-*.png"):
        old.unlink()
    subprocess.run([pdftoppm, "-r", "50", "-png", str(target), str(prefix)], check=True)
    return sorted(shots.glob("pdf-page-*.png"))


def _arm_pixels(path: Path, colours: list[str]) -> list[int]:
    """Pixels near each arm's colour (sum of absolute RGB differences below 90)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    counts = []
    for colour in colours:
        target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        counts.append(int((np.abs(rgb - target).sum(axis=2) < 90).sum()))
    return counts


def test_pdf_has_plausible_pages_with_figures(pdf_pages, demo):
    assert len(pdf_pages) >= 5
    colours = list(arm_colours([demo.config["arms"]["reference"], demo.config["arms"]["treatment"]]).values())
    # a page with a figure of the arms shows both arm colours
    with_figures = [p for p in pdf_pages if min(_arm_pixels(p, colours)) >= 100]
    assert len(with_figures) >= 4, [(p.name, _arm_pixels(p, colours)) for p in pdf_pages]
    first = np.asarray(Image.open(pdf_pages[0]).convert("L"))
    assert first.shape[0] > first.shape[1]  # portrait A4
    for page in pdf_pages:
        pixels = np.asarray(Image.open(page).convert("L"))
        assert (pixels < 200).mean() > 0.002, f"{page.name} is blank"
