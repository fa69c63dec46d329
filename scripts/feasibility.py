"""Rule feasibility: CONSORT pilot-extension feasibility and progression criteria."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.common import not_estimable_lines
from pilottrial.analyses.feasibility import feasibility_table, progression_table, read_screening_log
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
feasibility = feasibility_table(read_table(snakemake.input.analysis), trial, read_screening_log(trial))
progression = progression_table(feasibility, trial)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
feasibility.to_csv(snakemake.output.feasibility, **out)
progression.to_csv(snakemake.output.progression, **out)
for line in (not_estimable_lines(feasibility, "feasibility", keys=("measure", "arm", "visit"))
             + not_estimable_lines(progression, "progression", keys=("name",))):
    print(line, file=sys.stderr)
