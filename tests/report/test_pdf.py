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


def _png(mode, **save):
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(7).integers(0, 256, size=(40, 60, len(mode) if mode != "L" else 1), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_png_idat_is_what_weasyprint_would_encode(mode):
    import io

    from PIL import Image
    from weasyprint.images import RasterImage

    from pilottrial.report.pdf import png_idat

    data = _png(mode)
    assert png_idat(data) == RasterImage._get_png_data(Image.open(io.BytesIO(data)))


def test_png_idat_refuses_what_a_pdf_image_cannot_take_as_it_is():
    from pilottrial.report.pdf import png_idat

    assert png_idat(_png("RGBA")) is None  # alpha: WeasyPrint splits it off
    rgb = bytearray(_png("RGB"))
    assert png_idat(bytes(rgb)) is not None
    for offset, value in ((28, 1), (24, 16)):  # IHDR: interlaced (Adam7); 16 bits per sample
        changed = bytearray(rgb)
        changed[offset] = value
        assert png_idat(bytes(changed)) is None
    assert png_idat(b"GIF89a....") is None
    palette = _png("RGB")
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(palette)).convert("P").save(buffer, format="PNG")
    assert png_idat(buffer.getvalue()) is None


def test_a_report_with_figures_gives_the_same_pdf_with_reused_png_data(monkeypatch):
    import base64
    import contextlib

    import pilottrial.report.pdf as pdf

    figures = "".join(f'<img src="data:image/png;base64,{base64.b64encode(_png(mode)).decode()}">'
                      for mode in ("RGB", "L", "RGBA"))
    html = HTML.replace("</body>", figures + "</body>")
    reused = pdf.render_pdf(html)
    monkeypatch.setattr(pdf, "reused_png_data", contextlib.nullcontext)  # WeasyPrint encodes every image
    assert pdf.render_pdf(html) == reused


def test_the_pdf_printer_writes_the_same_bytes_and_raises_the_workers_errors(tmp_path):
    from pilottrial.report.pdf import PdfPrinter, write_pdf

    page = tmp_path / "report.html"
    page.write_text(HTML, encoding="utf-8")
    with PdfPrinter() as printer:
        printer.write_pdf(page, tmp_path / "worker.pdf")
    write_pdf(page, tmp_path / "here.pdf")
    assert (tmp_path / "worker.pdf").read_bytes() == (tmp_path / "here.pdf").read_bytes()
    remote = tmp_path / "remote.html"  # not self-contained: the report must not fetch anything
    remote.write_text(HTML.replace("</body>", '<img src="https://example.org/x.png"></body>'), encoding="utf-8")
    with pytest.raises(ValueError, match="self-contained"), PdfPrinter() as printer:
        printer.write_pdf(remote, tmp_path / "remote.pdf")
    assert not (tmp_path / "remote.pdf").exists()
