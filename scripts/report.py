"""Rule report: the self-contained HTML report."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.provenance import provenance
from pilottrial.report import render_report, write_report

config = snakemake.params.config
html = render_report(
    config,
    pd.read_csv(snakemake.input.contrasts),
    pd.read_csv(snakemake.input.descriptives),
    snakemake.params.figures,
    provenance(config, snakemake.params.config_source),
    models=pd.read_csv(snakemake.input.models),
)
write_report(snakemake.output.report, html)
