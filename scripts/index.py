"""Rule index: the page linking every trial's report."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.report.index_page import render_index

with open(snakemake.output.index, "w", encoding="utf-8", newline="\n") as handle:
    handle.write(render_index(snakemake.params.trials))
