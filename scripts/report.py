"""Rule report: the self-contained HTML report of a parallel trial (all statistics in the library)
and the same report printed to PDF."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.data.table import read_table
from pilottrial.provenance.record import provenance
from pilottrial.registry import TABLE_NAMES
from pilottrial.report.document import render_report, write_report
from pilottrial.report.pdf import PdfPrinter

config = snakemake.params.config
with PdfPrinter() as printer:  # WeasyPrint loads in a second process while the HTML is built
    # every named input that is a result table: {"contrasts": DataFrame, ...}
    tables = {name: read_table(path) for name, path in snakemake.input.items() if name in TABLE_NAMES}
    warnings = list(snakemake.params.get("warnings", None) or [])
    html = render_report(config, tables, snakemake.params.figures,
                         provenance(config, snakemake.params.config_source), warnings=warnings)
    write_report(snakemake.output.report, html)
    printer.write_pdf(snakemake.output.report, snakemake.output.pdf)
