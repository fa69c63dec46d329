"""Rule mechanism_estimands: mechanism correlations and the estimand table."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.estimands import estimand_table
from pilottrial.analyses.mechanism import mechanism_table
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
analysis = read_table(snakemake.input.analysis)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
mechanism_table(analysis, trial).to_csv(snakemake.output.mechanism, **out)
estimand_table(trial, analysis).to_csv(snakemake.output.estimands, **out)
