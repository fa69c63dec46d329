"""Rules secondary and secondary_with_harms: Holm adjustment, effect sizes, responders and the
Bayesian reading; mechanism correlations, the estimand table, the CONSORT pilot-extension
feasibility measures with the progression criteria; and, for a trial with harms files, the
adverse events and the dissociation during the infusion."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from pilottrial.analyses.bayes import posterior_table
from pilottrial.analyses.common import not_estimable_lines
from pilottrial.analyses.effects import effect_sizes
from pilottrial.analyses.estimands import estimand_table
from pilottrial.analyses.feasibility import feasibility_table, progression_table, read_screening_log
from pilottrial.analyses.mechanism import mechanism_table
from pilottrial.analyses.multiplicity import adjust_contrasts
from pilottrial.analyses.responders import responder_table
from pilottrial.config import Trial
from pilottrial.data.table import read_table

trial = Trial.from_config(snakemake.params.config)
analysis = read_table(snakemake.input.analysis)
contrasts = read_table(snakemake.input.contrasts)
out = {"index": False, "lineterminator": "\n", "float_format": "%.10g"}
tables = {
    "multiplicity": adjust_contrasts(contrasts, trial),
    "effect_sizes": effect_sizes(analysis, contrasts, trial),
    "responders": responder_table(analysis, trial),
    "posterior": posterior_table(contrasts, trial),
}
for name, table in tables.items():
    table.to_csv(getattr(snakemake.output, name), **out)
    keys = ("treatment", "outcome", "visit", "method", "definition", "prior")
    for line in not_estimable_lines(table, name, keys=keys):
        print(line, file=sys.stderr)
mechanism = mechanism_table(analysis, trial)
estimands = estimand_table(trial, analysis)
mechanism.to_csv(snakemake.output.mechanism, **out)
estimands.to_csv(snakemake.output.estimands, **out)
for line in (not_estimable_lines(mechanism, "mechanism", keys=("mechanism_outcome", "visit", "arm"))
             + not_estimable_lines(estimands.drop_duplicates(["outcome"]), "estimands", keys=("outcome",))):
    print(line, file=sys.stderr)
feasibility = feasibility_table(analysis, trial, read_screening_log(trial))
progression = progression_table(feasibility, trial)
feasibility.to_csv(snakemake.output.feasibility, **out)
progression.to_csv(snakemake.output.progression, **out)
for line in (not_estimable_lines(feasibility, "feasibility", keys=("measure", "arm", "visit"))
             + not_estimable_lines(progression, "progression", keys=("name",))):
    print(line, file=sys.stderr)
if "adverse_events" in snakemake.output.keys():
    from pilottrial.analyses.harms import harms_tables, participants_table, read_harms

    participants = participants_table(analysis)
    harms = harms_tables(read_harms(trial, participants), participants, trial)
    for name in ("adverse_events", "dissociation"):
        harms[name].to_csv(getattr(snakemake.output, name), **out)
        for line in not_estimable_lines(harms[name], name, keys=("term", "arm", "statistic", "treatment")):
            print(line, file=sys.stderr)
