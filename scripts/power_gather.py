"""Rule power_gather: combine the shards into the power curve, the sample sizes and the figure."""
import sys

sys.stderr = open(snakemake.log[0], "w")

import matplotlib

matplotlib.use("Agg")

from pilottrial.data.table import read_table
from pilottrial.planning import PowerPlan, combine_shards, planning_summary, power_curve
from pilottrial.report.figures.layout import placeholder_figure
from pilottrial.report.figures.power import plot_power_curve

plan = PowerPlan.from_json(snakemake.input.plan)
sims = combine_shards([read_table(path) for path in snakemake.input.shards], plan)
curve, sample_size = power_curve(sims, plan)
curve.to_csv(snakemake.output.curve, index=False, lineterminator="\n", float_format="%.10g")
sample_size.to_csv(snakemake.output.sample_size, index=False, lineterminator="\n", float_format="%.10g")
if plan.estimable:
    plot_power_curve(curve, sample_size, snakemake.output.figure, plan=plan,
                     title=f"{plan.outcome} at {plan.visit}"
                     + (f", {plan.arms[1]} vs {plan.arms[0]}" if plan.comparison else "")  # three or more arms
                     + ": power of the definitive trial")
else:  # no curve to draw: a figure that says why
    placeholder_figure(snakemake.output.figure, f"{plan.outcome} at {plan.visit}: no power curve",
                       plan.not_estimable, svg=False)
print("\n\n".join(planning_summary(plan, sample_size)), file=sys.stderr)
