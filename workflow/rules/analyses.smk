# The complete pilot-trial analysis beyond the primary models: multiplicity, effect sizes,
# responders, Bayesian reading, sensitivity analyses, missing data, harms, feasibility,
# mechanism and estimands. Each rule writes tidy tables under results/<trial>/tables/. Light
# analyses share a job (mechanism, estimands and feasibility run with the secondary analyses, the
# missing-data analyses with the sensitivity analyses, the harms with the secondary analyses): each
# job start costs an interpreter and the scientific imports.


rule secondary:
    wildcard_constraints:
        trial=WITHOUT_HARMS,
    priority: 5
    input:
        library=library("secondary"),
        analysis=rules.ingest.output.analysis,
        contrasts=rules.primary_models.output.contrasts,
        files=lambda w: feasibility_files(w.trial) + harms_files(w.trial),
    output:
        multiplicity=f"{RESULTS}/tables/multiplicity.csv",
        effect_sizes=report(f"{RESULTS}/tables/effect_sizes.csv", caption="../report/effect_sizes.rst",
                            category="Secondary"),
        responders=report(f"{RESULTS}/tables/responders.csv", caption="../report/responders.rst",
                          category="Secondary"),
        posterior=report(f"{RESULTS}/tables/posterior.csv", caption="../report/posterior.rst",
                         category="Secondary"),
        mechanism=f"{RESULTS}/tables/mechanism.csv",
        estimands=f"{RESULTS}/tables/estimands.csv",
        feasibility=report(f"{RESULTS}/tables/feasibility.csv", caption="../report/feasibility.rst",
                           category="Feasibility"),
        progression=report(f"{RESULTS}/tables/progression.csv", caption="../report/progression.rst",
                           category="Feasibility"),
    params:
        config=trial_config,
    log:
        f"{LOGS}/secondary.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/secondary.py"


# A trial with harms files: the same job also tabulates the adverse events and the dissociation.
use rule secondary as secondary_with_harms with:
    wildcard_constraints:
        trial=WITH_HARMS,
    output:
        multiplicity=f"{RESULTS}/tables/multiplicity.csv",
        effect_sizes=report(f"{RESULTS}/tables/effect_sizes.csv", caption="../report/effect_sizes.rst",
                            category="Secondary"),
        responders=report(f"{RESULTS}/tables/responders.csv", caption="../report/responders.rst",
                          category="Secondary"),
        posterior=report(f"{RESULTS}/tables/posterior.csv", caption="../report/posterior.rst",
                         category="Secondary"),
        mechanism=f"{RESULTS}/tables/mechanism.csv",
        estimands=f"{RESULTS}/tables/estimands.csv",
        feasibility=report(f"{RESULTS}/tables/feasibility.csv", caption="../report/feasibility.rst",
                           category="Feasibility"),
        progression=report(f"{RESULTS}/tables/progression.csv", caption="../report/progression.rst",
                           category="Feasibility"),
        adverse_events=report(f"{RESULTS}/tables/adverse_events.csv", caption="../report/adverse_events.rst",
                              category="Harms"),
        dissociation=report(f"{RESULTS}/tables/dissociation.csv", caption="../report/dissociation.rst",
                            category="Harms"),


# The treatment differences under other models and under other missing-data assumptions
# (missingness, multiple imputation, tipping point): one job.
rule sensitivity:
    wildcard_constraints:
        trial=PARALLEL,
    priority: 7
    input:
        library=library("sensitivity"),
        analysis=rules.ingest.output.analysis,
    output:
        sensitivity=report(f"{RESULTS}/tables/sensitivity.csv", caption="../report/sensitivity.rst",
                           category="Sensitivity"),
        missing=report(f"{RESULTS}/tables/missing_data.csv", caption="../report/missing_data.rst",
                       category="Missing data"),
        imputation=report(f"{RESULTS}/tables/multiple_imputation.csv", caption="../report/imputation.rst",
                          category="Missing data"),
        tipping=report(f"{RESULTS}/tables/tipping_point.csv", caption="../report/tipping_point.rst",
                       category="Missing data"),
    params:
        config=trial_config,
    resources:
        runtime=30,
    log:
        f"{LOGS}/sensitivity.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/sensitivity.py"
