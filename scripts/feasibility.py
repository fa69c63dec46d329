"""Rule feasibility: CONSORT pilot-extension feasibility and progression criteria."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from pilottrial.analyses.feasibility import feasibility_table, progression_table, read_screening_log
from pilottrial.config import Trial

trial = Trial.from_config(snakemake.params.config)
feasibility = feasibility_table(pd.read_csv(snakemake.input.analysis), trial, read_screening_log(trial))
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
feasibility.to_csv(snakemake.output.feasibility, **out)
progression_table(feasibility, trial).to_csv(snakemake.output.progression, **out)
