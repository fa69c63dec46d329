# Several trials in one run: an index page linking each trial's report.


rule index:
    input:
        reports=expand("results/{trial}/report.html", trial=list(TRIALS)),
    output:
        index="results/index.html",
    params:
        trials=[{"name": n, "title": c["trial"]["title"], "design": c["trial"]["design"],
                 "report": f"{n}/report.html"} for n, c in TRIALS.items()],
    log:
        "logs/index.log",
    conda:
        "../envs/pilottrial.yaml"
    script:
        "../../scripts/index.py"
