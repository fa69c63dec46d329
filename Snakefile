# pilottrial: a randomized pilot trial's data in, validated statistics, figures and a report out.
# The trial is described by a config file: config/config.yaml (the demo) unless --configfile
# names another, which then replaces it entirely; --config trials=a.yaml,b.yaml analyses several
# trials in one run (see workflow/rules/common.smk).
from snakemake.utils import min_version

min_version("8.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/report_figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/crossover.smk"
include: "workflow/rules/index.smk"
include: "workflow/rules/power.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        final_outputs(),
        POWER_OUTPUTS,
    default_target: True
