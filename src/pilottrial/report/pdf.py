"""The report as PDF: the HTML report printed by WeasyPrint, with stable bytes.

WeasyPrint (a pinned Python package, no browser) lays out the self-contained HTML with its print
CSS (A4, page numbers, a page break before each part) and writes a PDF whose bytes depend only on
the HTML, the fonts installed and the WeasyPrint version: no creation or modification date and a
document identifier derived from the content. When ``SOURCE_DATE_EPOCH`` is set (the
reproducible-builds convention), that time is written as both ``CreationDate`` and ``ModDate``.

Fonts are subset by fontTools (a pinned Python package) whether or not the system has
HarfBuzz-Subset: WeasyPrint prefers ``libharfbuzz-subset`` when it can load it, and the two
subsetters write different bytes, so a system library appearing would change the PDF.

Images: a PDF image with ``/FlateDecode`` and ``/Predictor 15`` holds exactly the compressed
scanlines of a PNG's ``IDAT`` chunks. WeasyPrint decodes every PNG and encodes it again with
Pillow to get them; for an 8-bit RGB or grey, non-interlaced PNG (every figure of the report,
written by Pillow with its default settings) the chunks of the embedded file are used as they
are (:func:`reused_png_data`), which is the same data without the second encoding.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import logging
import os
from os import PathLike
from pathlib import Path

__all__ = ["write_pdf", "PdfPrinter", "render_pdf", "pdf_metadata_time", "pinned_font_subsetter", "reused_png_data",
           "png_idat"]


@contextlib.contextmanager
def pinned_font_subsetter():
    """Make WeasyPrint subset fonts with fontTools (pinned) instead of the system's HarfBuzz-Subset,
    and keep the subset fonts' ``head.modified`` time fixed (fontTools would write the current
    time into every embedded font)."""
    import fontTools.ttLib.tables._h_e_a_d as head
    import weasyprint.pdf.fonts as fonts

    saved = fonts.harfbuzz_subset, head.timestampNow
    logger = logging.getLogger("weasyprint")
    quiet = _DropFontToolsNotice()
    fonts.harfbuzz_subset = None
    head.timestampNow = _font_timestamp
    logger.addFilter(quiet)
    try:
        yield
    finally:
        fonts.harfbuzz_subset, head.timestampNow = saved
        logger.removeFilter(quiet)


def png_idat(data: bytes) -> bytes | None:
    """The concatenated ``IDAT`` chunks of an 8-bit RGB or grey, non-interlaced PNG; None for any
    other image (palette, alpha, 16-bit, interlaced, not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    bit_depth, colour_type, interlace = data[24], data[25], data[28]
    if bit_depth != 8 or colour_type not in (0, 2) or interlace != 0:
        return None
    chunks, position = [], 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        if kind == b"IDAT":
            chunks.append(data[position + 8:position + 8 + length])
        position += 12 + length  # length, type, data, CRC
    return b"".join(chunks) or None


@contextlib.contextmanager
def reused_png_data():
    """Make WeasyPrint embed the ``IDAT`` data of a PNG as it is where the PDF can take it
    (:func:`png_idat`) instead of decoding and encoding the image again (see the module docstring)."""
    from weasyprint.images import RasterImage

    original = RasterImage.__dict__["_get_png_data"]
    encode = original.__func__

    def png_data(pillow_image):
        source = getattr(pillow_image, "fp", None)
        if pillow_image.format == "PNG" and pillow_image.mode in ("RGB", "L") and hasattr(source, "getvalue"):
            idat = png_idat(source.getvalue())
            if idat is not None:
                return idat
        return encode(pillow_image)

    RasterImage._get_png_data = staticmethod(png_data)
    try:
        yield
    finally:
        RasterImage._get_png_data = original


def _font_timestamp() -> int:
    """``head.modified`` of the embedded fonts: ``SOURCE_DATE_EPOCH`` when set, else the font epoch (1904)."""
    from fontTools.misc.timeTools import epoch_diff

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(epoch) - epoch_diff if epoch.isdigit() else 0


class _DropFontToolsNotice(logging.Filter):
    """WeasyPrint logs a notice per font when it uses fontTools: expected here, so not logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Using fontTools instead of HarfBuzz-Subset" not in record.getMessage()


def pdf_metadata_time() -> str | None:
    """``SOURCE_DATE_EPOCH`` as an ISO 8601 UTC time for the PDF dates, or None when it is unset."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    try:
        seconds = int(epoch)
    except ValueError as error:
        raise ValueError(f"SOURCE_DATE_EPOCH must be an integer number of seconds, got {epoch!r}") from error
    return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_pdf(html: str, base_url: str | PathLike | None = None) -> bytes:
    """PDF bytes of an HTML document (the report).

    Parameters
    ----------
    html : str
        The document; it must not need the network (the report embeds its figures).
    base_url : path, optional
        Where relative URLs would resolve (unused by the self-contained report).

    Returns
    -------
    bytes
        The PDF. The same HTML gives the same bytes (given the same fonts and WeasyPrint).
    """
    import weasyprint  # imported here: only the PDF step needs it
    import weasyprint.urls

    # data: URIs only: the report is self-contained and printing it makes no request
    fetcher = weasyprint.URLFetcher(allowed_protocols=["data"], fail_on_errors=True)
    try:
        document = weasyprint.HTML(string=html, base_url=str(base_url) if base_url else None,
                                   url_fetcher=fetcher).render()
    except weasyprint.urls.FatalURLFetchingError as error:  # a BaseException in WeasyPrint
        raise ValueError(f"the report must be self-contained (data: URIs only): {error}") from None
    when = pdf_metadata_time()
    metadata = document.metadata
    metadata.created = when
    metadata.modified = when
    metadata.generator = "pilottrial"
    identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
    with pinned_font_subsetter(), reused_png_data():
        return document.write_pdf(pdf_identifier=identifier, uncompressed_pdf=False)


def write_pdf(html_path: str | PathLike, pdf_path: str | PathLike) -> Path:
    """Print the HTML report at ``html_path`` to ``pdf_path`` (parent folders are created).

    Returns
    -------
    pathlib.Path
        ``pdf_path``.
    """
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    data = render_pdf(html_path.read_text(encoding="utf-8"), base_url=html_path.parent)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    pdf_path.write_bytes(data)
    return pdf_path


def _load_weasyprint() -> None:
    import weasyprint  # noqa: F401 -- imported to be ready
    import weasyprint.images  # noqa: F401
    import weasyprint.pdf.fonts  # noqa: F401


class PdfPrinter:
    """:func:`write_pdf` in a second process that imports WeasyPrint while the caller is still
    building the HTML (the import takes about half a second of a job that ends the pipeline).

    Use as a context manager: ``with PdfPrinter() as printer: ...; printer.write_pdf(html, pdf)``.
    The worker is forked (Linux); where fork is not the safe default (macOS, Windows) the PDF is
    printed in this process. The bytes are the same either way; an error in the worker is raised
    here.
    """

    def __enter__(self) -> PdfPrinter:
        import multiprocessing
        import sys

        self._pool = None
        if sys.platform.startswith("linux"):
            self._pool = multiprocessing.get_context("fork").Pool(1)
            self._pool.apply_async(_load_weasyprint)
        return self

    def write_pdf(self, html_path: str | PathLike, pdf_path: str | PathLike) -> Path:
        """:func:`write_pdf`, in the worker when there is one."""
        if self._pool is None:
            return write_pdf(html_path, pdf_path)
        return self._pool.apply(write_pdf, (html_path, pdf_path))

    def __exit__(self, *exc) -> None:
        if self._pool is None:
            return
        if exc[0] is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
