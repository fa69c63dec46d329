"""Rule descriptives: scores by outcome x arm x visit."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.data.table import read_table
from pilottrial.models.primary import descriptives

analysis = read_table(snakemake.input.analysis)
descriptives(analysis, snakemake.params.config).to_csv(snakemake.output.descriptives, index=False,
                                                         lineterminator="\n", float_format="%.10g")
