"""report.pdf must not depend on which system libraries happen to be installed.

WeasyPrint subsets fonts with the system's libharfbuzz-subset when it can load it and with
fontTools otherwise; the two write different bytes. pilottrial.report.pdf pins fontTools.
"""

import os

import pytest

from pilottrial.report.pdf import render_pdf

HTML = """<!doctype html><html><head><meta charset="utf-8"><style>body{font-family:DejaVu Sans,sans-serif}</style>
</head><body><h1>Ketamine vs midazolam</h1><p>CAPS-5 at 30 days: −12.74 (95% CI −22.39 to −3.10); p = 0.013.</p>
<table><tr><th>Arm</th><th>n</th></tr><tr><td>ketamine</td><td>14</td></tr></table></body></html>"""


def _harfbuzz_subset_loaded():
    import weasyprint.pdf.fonts as fonts

    return fonts.harfbuzz_subset is not None


def test_pdf_bytes_do_not_depend_on_libharfbuzz_subset(monkeypatch):
    if not _harfbuzz_subset_loaded():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("libharfbuzz-subset0 is not installed (CI=true: .ci/install-report-tools installs it)")
        pytest.skip("libharfbuzz-subset is not installed: nothing to compare")
    with_library = render_pdf(HTML)
    import weasyprint.pdf.fonts as fonts

    monkeypatch.setattr(fonts, "harfbuzz_subset", None)  # as on a machine without the library
    without_library = render_pdf(HTML)
    assert with_library == without_library


def test_pdf_rendering_restores_weasyprints_own_setting():
    import weasyprint.pdf.fonts as fonts

    before = fonts.harfbuzz_subset
    render_pdf(HTML)
    assert fonts.harfbuzz_subset is before
