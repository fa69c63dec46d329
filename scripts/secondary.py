"""Rule secondary: Holm adjustment, effect sizes, responders and the Bayesian reading."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.bayes import posterior_table
from pilottrial.analyses.effects import effect_sizes
from pilottrial.analyses.multiplicity import adjust_contrasts
from pilottrial.analyses.responders import responder_table
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
analysis = read_table(snakemake.input.analysis)
contrasts = read_table(snakemake.input.contrasts)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
adjust_contrasts(contrasts, trial).to_csv(snakemake.output.multiplicity, **out)
effect_sizes(analysis, contrasts, trial).to_csv(snakemake.output.effect_sizes, **out)
responder_table(analysis, trial).to_csv(snakemake.output.responders, **out)
posterior_table(contrasts, trial).to_csv(snakemake.output.posterior, **out)
