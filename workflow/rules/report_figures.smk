# The figures and Table 1 that the report embeds (pilottrial.report.figures.trial), PNG and SVG.


rule consort_figure:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=LIBRARY,
        analysis=rules.ingest.output.analysis,
        files=lambda w: feasibility_files(w.trial),
    output:
        consort=f"{RESULTS}/figures/consort.png",
        consort_svg=f"{RESULTS}/figures/consort.svg",
    params:
        config=trial_config,
    log:
        f"{LOGS}/consort_figure.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/consort_figure.py"


rule trial_figures:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=LIBRARY,
        analysis=rules.ingest.output.analysis,
        data=data_path,
        contrasts=rules.primary_models.output.contrasts,
        multiplicity=rules.secondary.output.multiplicity,
        effect_sizes=rules.secondary.output.effect_sizes,
        responders=rules.secondary.output.responders,
        tipping=rules.missing_data.output.tipping,
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


rule outcome_figures:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=LIBRARY,
        analysis=rules.ingest.output.analysis,
    output:
        mean_score=f"{RESULTS}/figures/{{outcome}}_mean_score.png",
        mean_score_svg=f"{RESULTS}/figures/{{outcome}}_mean_score.svg",
        residuals=f"{RESULTS}/figures/{{outcome}}_residuals.png",
        residuals_svg=f"{RESULTS}/figures/{{outcome}}_residuals.svg",
        missing=f"{RESULTS}/figures/{{outcome}}_missing_pattern.png",
        missing_svg=f"{RESULTS}/figures/{{outcome}}_missing_pattern.svg",
    params:
        config=trial_config,
        outcome=outcome_name,
    log:
        f"{LOGS}/outcome_figures_{{outcome}}.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/outcome_figures.py"


rule waterfall_figure:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        library=LIBRARY,
        analysis=rules.ingest.output.analysis,
    output:
        waterfall=f"{RESULTS}/figures/{{outcome}}_waterfall.png",
        waterfall_svg=f"{RESULTS}/figures/{{outcome}}_waterfall.svg",
    params:
        config=trial_config,
        outcome=outcome_name,
    log:
        f"{LOGS}/waterfall_{{outcome}}.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/waterfall_figure.py"
