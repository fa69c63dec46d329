# The primary models (MMRM and LMM contrasts, models.csv) and the descriptive statistics, in one
# job: each job start costs an interpreter and the scientific imports.

rule primary_models:
    wildcard_constraints:
        trial=PARALLEL,
    priority: 6
    input:
        library=library("primary_models"),
        analysis=rules.ingest.output.analysis,
    output:
        contrasts=report(
            f"{RESULTS}/tables/contrasts.csv",
            caption="../report/contrasts.rst",
            category="Primary",
        ),
        models=f"{RESULTS}/tables/models.csv",
        descriptives=report(
            f"{RESULTS}/tables/descriptives.csv",
            caption="../report/descriptives.rst",
            category="Data",
        ),
    params:
        config=trial_config,
    log:
        f"{LOGS}/primary_models.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/primary_models.py"
