"""Rule crossover_report: the crossover trial's self-contained HTML report and its PDF."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.data.table import read_table
from pilottrial.provenance.record import provenance
from pilottrial.report.document import render_crossover_report, write_report
from pilottrial.report.pdf import write_pdf

config = snakemake.params.config
html = render_crossover_report(
    config,
    read_table(snakemake.input.contrasts),
    read_table(snakemake.input.carryover),
    read_table(snakemake.input.descriptives),
    read_table(snakemake.input.models),
    snakemake.params.figures,
    provenance(config, snakemake.params.config_source),
    table=read_table(snakemake.input.table),
)
write_report(snakemake.output.report, html)
write_pdf(snakemake.output.report, snakemake.output.pdf)
