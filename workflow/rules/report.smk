# The report: HTML, then the same HTML printed to PDF (WeasyPrint; byte-stable) in the same job.

rule report:
    wildcard_constraints:
        trial=PARALLEL,
    input:
        unpack(report_tables),
        library=library("report"),
        inputs=lambda w: input_paths(w.trial),
        figures=lambda w: [spec["path"] for spec in report_figures(w.trial).values()],
    output:
        report=report(
            f"{RESULTS}/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
        pdf=report(
            f"{RESULTS}/report.pdf",
            caption="../report/report_pdf.rst",
            category="Report",
        ),
    params:
        config=trial_config,
        config_source=config_source,
        figures=lambda w: report_figures(w.trial),
    log:
        f"{LOGS}/report.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/report.py"


# Written last: it depends on every output of the trial, then lists them all with their SHA-256.
rule manifest:
    input:
        outputs=lambda w: trial_outputs(w.trial) + power_outputs(w.trial),
    output:
        manifest=report(
            f"{RESULTS}/MANIFEST.sha256",
            caption="../report/manifest.rst",
            category="Data",
        ),
    params:
        config=trial_config,
        results=lambda w: f"results/{w.trial}",
    log:
        f"{LOGS}/manifest.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/manifest.py"
