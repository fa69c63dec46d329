# Two-period crossover trials (trial.design: crossover).


rule crossover_models:
    wildcard_constraints:
        trial=CROSSOVER,
    input:
        library=library("crossover_models"),
        data=data_path,
    output:
        contrasts=report(
            f"{RESULTS}/tables/contrasts.csv",
            caption="../report/contrasts.rst",
            category="Primary",
        ),
        carryover=f"{RESULTS}/tables/carryover.csv",
        descriptives=f"{RESULTS}/tables/descriptives.csv",
        models=f"{RESULTS}/tables/models.csv",
        table=f"{RESULTS}/data/analysis.csv",
    params:
        config=trial_config,
    log:
        f"{LOGS}/crossover_models.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/crossover_models.py"


rule crossover_figure:
    wildcard_constraints:
        trial=CROSSOVER,
    input:
        library=library("crossover_figure"),
        table=rules.crossover_models.output.table,
    output:
        figure=report(
            f"{RESULTS}/figures/{{outcome}}_crossover.png",
            caption="../report/crossover.rst",
            category="Figures",
        ),
    params:
        config=trial_config,
        outcome=outcome_name,
    log:
        f"{LOGS}/crossover_figure_{{outcome}}.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/crossover_figure.py"


rule crossover_report:
    wildcard_constraints:
        trial=CROSSOVER,
    input:
        library=library("crossover_report"),
        data=data_path,
        contrasts=rules.crossover_models.output.contrasts,
        carryover=rules.crossover_models.output.carryover,
        descriptives=rules.crossover_models.output.descriptives,
        models=rules.crossover_models.output.models,
        table=rules.crossover_models.output.table,
        figures=lambda w: list(crossover_figure_paths(w.trial).values()),
    output:
        report=report(f"{RESULTS}/report.html", caption="../report/report.rst", category="Report"),
        pdf=report(f"{RESULTS}/report.pdf", caption="../report/report_pdf.rst", category="Report"),
    params:
        config=trial_config,
        config_source=config_source,
        figures=lambda w: crossover_figure_paths(w.trial),
    log:
        f"{LOGS}/crossover_report.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/crossover_report.py"
