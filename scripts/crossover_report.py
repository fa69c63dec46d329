"""Rule crossover_report: the crossover trial's self-contained HTML report."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.provenance.record import provenance
from pilottrial.report.document import render_crossover_report, write_report

config = snakemake.params.config
html = render_crossover_report(
    config,
    pd.read_csv(snakemake.input.contrasts),
    pd.read_csv(snakemake.input.carryover),
    pd.read_csv(snakemake.input.descriptives),
    pd.read_csv(snakemake.input.models),
    snakemake.params.figures,
    provenance(config, snakemake.params.config_source),
    table=pd.read_csv(snakemake.input.table),
)
write_report(snakemake.output.report, html)
