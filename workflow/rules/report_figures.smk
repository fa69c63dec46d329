# The figures and Table 1 that the report embeds (pilottrial.report.figures), PNG and SVG.
# Two jobs per trial (each job start imports matplotlib): the CONSORT flow and every per-outcome
# figure from the analysis table alone (outcome_figures_<trial>, one rule per trial because its
# files depend on the trial's outcomes: pilottrial.registry.outcome_figure_files), then the
# figures that need the result tables (trial_figures).


for _trial in sorted(TRIALS):
    if TRIALS[_trial]["trial"]["design"] == "crossover":
        continue

    rule:
        name:
            outcome_figures_rule(_trial)
        priority: 9
        input:
            library=library("outcome_figures"),
            analysis=f"results/{_trial}/data/analysis.csv",
            files=feasibility_files(_trial),
        output:
            **outcome_figure_outputs(_trial),
        params:
            config=TRIALS[_trial],
            figures=outcome_figure_files(TRIALS[_trial], f"results/{_trial}"),
        log:
            f"logs/{_trial}/outcome_figures.log",
        conda:
            "../envs/pilottrial.yaml"
        script:
            "../../scripts/outcome_figures.py"


rule trial_figures:
    wildcard_constraints:
        trial=PARALLEL,
    priority: 5
    input:
        library=library("trial_figures"),
        analysis=rules.ingest.output.analysis,
        data=data_path,
        contrasts=rules.primary_models.output.contrasts,
        multiplicity=rules.secondary.output.multiplicity,
        effect_sizes=rules.secondary.output.effect_sizes,
        responders=rules.secondary.output.responders,
        tipping=rules.sensitivity.output.tipping,
    output:
        forest=f"{RESULTS}/figures/forest.png",
        forest_svg=f"{RESULTS}/figures/forest.svg",
        responders=f"{RESULTS}/figures/responders.png",
        responders_svg=f"{RESULTS}/figures/responders.svg",
        tipping=f"{RESULTS}/figures/tipping_point.png",
        tipping_svg=f"{RESULTS}/figures/tipping_point.svg",
        table_one=report(f"{RESULTS}/tables/table_one.csv", caption="../report/table_one.rst", category="Data"),
    params:
        config=trial_config,
    log:
        f"{LOGS}/trial_figures.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/trial_figures.py"
