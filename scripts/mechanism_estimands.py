"""Rule mechanism_estimands: mechanism correlations and the estimand table."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.common import not_estimable_lines
from pilottrial.analyses.estimands import estimand_table
from pilottrial.analyses.mechanism import mechanism_table
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
analysis = read_table(snakemake.input.analysis)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
mechanism = mechanism_table(analysis, trial)
estimands = estimand_table(trial, analysis)
mechanism.to_csv(snakemake.output.mechanism, **out)
estimands.to_csv(snakemake.output.estimands, **out)
for line in (not_estimable_lines(mechanism, "mechanism", keys=("mechanism_outcome", "visit", "arm"))
             + not_estimable_lines(estimands.drop_duplicates(["outcome"]), "estimands", keys=("outcome",))):
    print(line, file=sys.stderr)
