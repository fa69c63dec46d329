"""Rule report_pdf: the HTML report printed to PDF (stable bytes, no timestamps)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.report.pdf import write_pdf

write_pdf(snakemake.input.report, snakemake.output.pdf)
