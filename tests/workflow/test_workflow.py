"""The workflow end to end, as an analyst runs it, in a temporary copy of the project."""

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT
from project import copy_project, digest, snakemake

pytestmark = pytest.mark.e2e
DEMO = "results/ketamine-ptsd-demo"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    workdir = copy_project(tmp_path_factory.mktemp("project"))
    snakemake(workdir)
    return workdir


def test_demo_pipeline_writes_the_contracted_tables_and_report(project):
    contrasts = pd.read_csv(project / DEMO / "tables/contrasts.csv")
    assert list(contrasts.columns) == ["outcome", "model", "visit", "estimate", "std_error", "df",
                                       "ci_lower", "ci_upper", "p_value"]
    efficacy = contrasts[contrasts.outcome.isin(["CAPS-5", "PCL-5", "MADRS"])]
    assert len(efficacy) == 3 * 2 * 3 and set(contrasts.model) == {"mmrm", "lmm"}
    imaging = contrasts[~contrasts.outcome.isin(["CAPS-5", "PCL-5", "MADRS"])]
    assert list(imaging.visit) == ["30d", "30d"] and set(imaging.model) == {"mmrm"}
    assert contrasts.notna().all().all()
    reference = pd.read_csv(REPO_ROOT / "tests/reference/demo_r_contrasts.csv")
    merged = contrasts.merge(reference, on=["outcome", "model", "visit"], suffixes=("", "_r"))
    assert len(merged) == 18
    assert ((merged.estimate - merged.estimate_r).abs() / merged.estimate_r.abs()).max() < 1e-4
    assert ((merged.df - merged.df_r).abs() / merged.df_r).max() < 1e-2
    descriptives = pd.read_csv(project / DEMO / "tables/descriptives.csv")
    assert {"outcome", "arm", "visit", "n", "mean", "sd", "median", "q1", "q3", "n_missing"} <= set(descriptives)
    report = (project / DEMO / "report.html").read_text()
    primary_24h = contrasts[(contrasts.outcome == "CAPS-5") & (contrasts.model == "mmrm") & (contrasts.visit == "24h")].iloc[0]
    assert f"{abs(primary_24h.estimate):.2f}" in report
    assert report.count("data:image/png;base64,") == 19  # the figures of report_figure_specs, power curve included
    assert (project / "logs/ketamine-ptsd-demo/primary_models.log").is_file()


def test_rerun_with_nothing_changed_does_nothing(project):
    assert "Nothing to be done" in snakemake(project, "-n").stdout


def test_figures_and_report_are_byte_identical_when_rebuilt(project):
    outputs = sorted((project / DEMO / "figures").glob("*.png")) + [project / DEMO / "report.html"]
    before = {p.name: digest(p) for p in outputs}
    # the figure rules (workflow/rules/report_figures.smk): outcome_figures_<trial> and trial_figures
    snakemake(project, "--forcerun", "outcome_figures_ketamine_ptsd_demo", "trial_figures", "report")
    assert {p.name: digest(p) for p in outputs} == before


def test_snakemake_report_zip(project):
    snakemake(project, "--report", f"{DEMO}/workflow-report.zip")
    assert (project / DEMO / "workflow-report.zip").stat().st_size > 10_000


def test_second_trial_by_configfile_inherits_nothing_from_the_demo(project):
    config = {
        "trial": {"name": "second-trial"},
        "data": {"path": "data/demo/ketamine_ptsd_demo.csv"},
        "columns": {"participant": "participant", "arm": "arm", "visit": "visit"},
        "arms": {"reference": "midazolam", "treatment": "ketamine"},
        "visits": {"baseline": "baseline", "order": ["baseline", "24h", "7d", "30d"], "key": ["30d"]},
        "outcomes": [{"name": "PCL-5", "column": "pcl5", "range": [0, 80]}],
        "analysis": {"alpha": 0.1},
    }
    path = project / "second.yaml"
    path.write_text(yaml.safe_dump(config))
    demo_before = {p: p.stat().st_mtime_ns for p in (project / DEMO).rglob("*")}
    snakemake(project, "--configfile", "second.yaml")
    contrasts = pd.read_csv(project / "results/second-trial/tables/contrasts.csv")
    assert set(contrasts.outcome) == {"PCL-5"}  # the demo's CAPS-5 and MADRS did not leak in
    demo_pcl = pd.read_csv(project / DEMO / "tables/contrasts.csv").query("outcome == 'PCL-5'")
    np_est = contrasts.set_index(["model", "visit"]).estimate
    assert np_est.equals(demo_pcl.set_index(["model", "visit"]).estimate)
    # alpha 0.1 from this config, not the demo's 0.05: 90% intervals are narrower
    width = (contrasts.ci_upper - contrasts.ci_lower).to_numpy()
    assert (width < (demo_pcl.ci_upper - demo_pcl.ci_lower).to_numpy()).all()
    assert {p: p.stat().st_mtime_ns for p in (project / DEMO).rglob("*")} == demo_before


BAD_INPUT = {
    "out_of_range": (lambda f: f.assign(caps5=f.caps5.where(f.index != 4, 95)), "outside its range", "line 6"),
    "unknown_arm": (lambda f: f.assign(arm=f.arm.where(f.index != 0, "placebo")), "unknown arm label", "line 2"),
    "duplicate_row": (lambda f: pd.concat([f, f.iloc[[1]]]), "more than one row", "lines 3, 110"),
    "missing_column": (lambda f: f.drop(columns="madrs"), "not in the data", "madrs"),
    "missing_baseline": (lambda f: f.assign(pcl5=f.pcl5.where(f.index != 0)), "missing baseline", "line 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_stops_with_one_line_and_writes_nothing(tmp_path, case):
    workdir = copy_project(tmp_path)
    mutate, problem, where = BAD_INPUT[case]
    frame = mutate(pd.read_csv(workdir / "data/demo/ketamine_ptsd_demo.csv"))
    bad = workdir / "bad.csv"
    frame.to_csv(bad, index=False)
    before = digest(bad)
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["trial"]["name"] = "bad-trial"
    config["data"]["path"] = "bad.csv"
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(workdir, "--configfile", "bad.yaml", check=False)
    assert run.returncode != 0
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr
    assert "bad.csv" in errors[0] and problem in errors[0] and where in errors[0] and "-- fix:" in errors[0]
    assert "Traceback" not in run.stderr + run.stdout
    assert not (workdir / "results/bad-trial").exists()
    assert digest(bad) == before


def test_config_typo_stops_with_one_line(tmp_path):
    workdir = copy_project(tmp_path)
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["analysis"]["alpah"] = 0.1
    (workdir / "typo.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(workdir, "--configfile", "typo.yaml", check=False)
    assert run.returncode != 0
    assert "did you mean 'alpha'" in run.stderr and "typo.yaml" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (workdir / "results").exists()


def test_crossover_demo_runs_end_to_end(tmp_path):
    workdir = copy_project(tmp_path)
    snakemake(workdir, "--configfile", "config/crossover.yaml")
    results = workdir / "results/ketamine-ptsd-crossover-demo"
    contrasts = pd.read_csv(results / "tables/contrasts.csv")
    assert list(contrasts.columns) == ["outcome", "model", "visit", "estimate", "std_error", "df",
                                       "ci_lower", "ci_upper", "p_value"]
    reference = pd.read_csv(REPO_ROOT / "tests/reference/crossover_r_contrasts.csv")
    row = contrasts.iloc[0]
    candidates = reference[(reference.estimate - row.estimate).abs() < 1e-4 * abs(row.estimate)]
    assert len(candidates), "the crossover estimate matches no R reference row"
    assert ((candidates.df - row.df).abs() / candidates.df).min() < 1e-2
    carryover = pd.read_csv(results / "tables/carryover.csv")
    assert "carry-over" in set(carryover.effect)
    report = (results / "report.html").read_text()
    assert "two-period crossover" in report and report.count("data:image/png;base64,") == 1
    assert not (workdir / "results/ketamine-ptsd-demo").exists()


# For each table of the complete analysis: columns where every row must hold a finite number.
DUE = {
    "multiplicity.csv": ["estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted"],
    "effect_sizes.csv": ["estimate", "ci_lower", "ci_upper", "sd"],
    "responders.csv": ["pct_treatment", "pct_reference", "risk_difference", "rd_ci_lower", "rd_ci_upper",
                       "fisher_p"],
    "posterior.csv": ["posterior_mean", "posterior_sd", "prob_benefit", "prob_benefit_beyond_mcid"],
    "sensitivity.csv": ["estimate", "ci_lower", "ci_upper", "p_value"],
    "multiple_imputation.csv": ["estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"],
    "tipping_point.csv": ["delta", "estimate", "ci_lower", "ci_upper"],
    "missing_data.csv": ["n_randomized"],
    "adverse_events.csv": ["n_treatment", "n_reference", "risk_difference", "fisher_p"],
    "dissociation.csv": ["n"],
    "feasibility.csv": [],
    "progression.csv": ["observed", "threshold"],
    "mechanism.csv": ["pearson_r", "pearson_ci_lower", "pearson_ci_upper", "spearman_rho"],
    "estimands.csv": [],
}


@pytest.mark.parametrize("table", sorted(DUE))
def test_complete_analysis_tables_have_numbers_where_due(project, table):
    frame = pd.read_csv(project / DEMO / "tables" / table)
    assert len(frame) > 0
    for column in DUE[table]:
        values = pd.to_numeric(frame[column], errors="coerce")
        assert values.notna().all() and np.isfinite(values).all(), (table, column, frame[values.isna()])


def test_sensitivity_covers_every_analysis_outcome_and_key_visit(project):
    frame = pd.read_csv(project / DEMO / "tables/sensitivity.csv")
    assert len(frame.analysis.unique()) >= 9
    assert frame.groupby("analysis").size().eq(3 * 2).all()  # 3 efficacy outcomes x 2 key visits


def test_many_trials_in_one_run_with_an_index_page(tmp_path):
    workdir = copy_project(tmp_path)
    dry = snakemake(workdir, "-n", "--config", "trials=config/config.yaml,config/crossover.yaml")
    assert "crossover_models" in dry.stdout and "primary_models" in dry.stdout  # one DAG for both
    snakemake(workdir, "--config", "trials=config/config.yaml,config/crossover.yaml")
    index = (workdir / "results/index.html").read_text()
    for trial in ("ketamine-ptsd-demo", "ketamine-ptsd-crossover-demo"):
        assert f'href="{trial}/report.html"' in index
        assert (workdir / "results" / trial / "report.html").is_file()
    single = pd.read_csv(REPO_ROOT / "tests/reference/crossover_r_contrasts.csv")
    crossover = pd.read_csv(workdir / "results/ketamine-ptsd-crossover-demo/tables/contrasts.csv")
    assert (single.estimate - crossover.estimate.iloc[0]).abs().min() < 1e-6


def test_two_configs_with_one_trial_name_are_refused(tmp_path):
    workdir = copy_project(tmp_path)
    run = snakemake(workdir, "--config", "trials=config/config.yaml,config/config.yaml", check=False)
    assert run.returncode != 0
    assert "two configs name the trial 'ketamine-ptsd-demo'" in run.stderr
    assert not (workdir / "results").exists()
