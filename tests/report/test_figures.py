"""Tests for pilottrial.report.figures on the demo trial: every figure is a valid PNG and SVG,
byte-identical across runs, leaks no figure or rcParam; the numbers drawn are checked against
counts and formulas computed here from the demo files."""

from __future__ import annotations

import copy
import math
import os
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the library leaves the backend to its caller

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from scipy import stats

import pilottrial.report.figures as rf
from pilottrial.analyses.effects import effect_sizes
from pilottrial.analyses.feasibility import read_screening_log, wilson_interval
from pilottrial.analyses.missing import tipping_point
from pilottrial.analyses.multiplicity import adjust_contrasts
from pilottrial.analyses.responders import responder_table
from pilottrial.models.mmrm.simulate import simulate_trial
from pilottrial.models.primary import fit_outcome_mmrm

DEMO = REPO_ROOT / "data" / "demo"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
POST = ["24h", "7d", "30d"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def config(demo_config) -> dict:
    return demo_config


@pytest.fixture(scope="module")
def analysis(demo_analysis) -> pd.DataFrame:
    return demo_analysis


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(DEMO / "ketamine_ptsd_demo.csv")


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return pd.read_csv(DEMO / "screening_log.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def tables(analysis, config, demo_primary) -> dict:
    contrasts, _ = demo_primary
    return {
        "contrasts": contrasts,
        "multiplicity": adjust_contrasts(contrasts, config),
        "effect_sizes": effect_sizes(analysis, contrasts, config),
        "responders": responder_table(analysis, config),
        "tipping": tipping_point(analysis, config, n_imputations=20),
    }


def _figures(analysis, config, tables):
    """name -> callable(path) drawing one figure on the demo."""
    return {
        "consort": lambda p: rf.plot_consort(analysis, config, read_screening_log(config), p),
        "mean_score": lambda p: rf.plot_mean_score(analysis, "CAPS-5", config, p),
        "forest": lambda p: rf.plot_forest(tables["contrasts"], config, p, multiplicity=tables["multiplicity"],
                                           effect_sizes=tables["effect_sizes"]),
        "waterfall": lambda p: rf.plot_waterfall(analysis, "CAPS-5", config, p),
        "responders": lambda p: rf.plot_responders(tables["responders"], config, p),
        "missing_pattern": lambda p: rf.plot_missing_pattern(analysis, config, p),
        "tipping": lambda p: rf.plot_tipping(tables["tipping"], config, p),
        "residuals": lambda p: rf.plot_residuals(analysis, "CAPS-5", config, p),
    }


FIGURES = ["consort", "mean_score", "forest", "waterfall", "responders", "missing_pattern", "tipping", "residuals"]


def _assert_png_svg(path: Path) -> None:
    png = path.read_bytes()
    assert png[:8] == PNG_MAGIC
    assert b"Software" not in png  # no matplotlib version in the metadata
    svg = rf.svg_path(path)
    assert svg.is_file()
    root = ET.fromstring(svg.read_bytes())  # well-formed XML
    assert root.tag.endswith("svg")
    text = svg.read_text()
    assert "<dc:date>" not in text and "Matplotlib v" not in text


# --------------------------------------------------------------------------- all figures


@pytest.mark.parametrize("name", FIGURES)
def test_png_and_svg_written_and_byte_identical(tmp_path, analysis, config, tables, name):
    draw = _figures(analysis, config, tables)[name]
    first, second = tmp_path / "a" / f"{name}.png", tmp_path / "b" / f"{name}.png"
    draw(first)
    draw(second)
    _assert_png_svg(first)
    assert first.read_bytes() == second.read_bytes()
    assert rf.svg_path(first).read_bytes() == rf.svg_path(second).read_bytes()


def test_no_figure_or_rcparam_leaks(tmp_path, analysis, config, tables):
    before = dict(matplotlib.rcParams)
    n_figs = len(plt.get_fignums())
    for name, draw in _figures(analysis, config, tables).items():
        draw(tmp_path / f"{name}.png")
        assert len(plt.get_fignums()) == n_figs, name
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()
    assert matplotlib.get_backend().lower() == "agg"


def test_importing_the_figures_sets_no_backend_and_no_seaborn():
    """The backend is the caller's choice (the scripts set Agg); every public name resolves."""
    code = ("import sys, matplotlib\n"
            "from matplotlib import rcsetup\n"
            "import pilottrial.report.figures as figures\n"
            "for name in figures.__all__:\n"
            "    getattr(figures, name)\n"
            "assert matplotlib.rcParams._get('backend') is rcsetup._auto_backend_sentinel\n"
            "assert 'seaborn' not in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


# --------------------------------------------------------------------------- CONSORT


def test_consort_counts_equal_the_demo_files(tmp_path, analysis, config, raw, log):
    counts = rf.plot_consort(analysis, config, read_screening_log(config), tmp_path / "consort.png")
    # screening log, counted here
    eligible = log["eligible"] == "yes"
    randomized = log["randomized"] == "yes"
    assert counts["screened"] == len(log) == 58
    assert counts["eligible"] == int(eligible.sum()) == 34
    assert counts["not_eligible"] == 24
    assert counts["eligible_not_randomized"] == int((eligible & ~randomized).sum()) == 7
    assert counts["excluded"] == 58 - 27
    assert counts["randomized_log"] == 27
    assert counts["not_eligible_reasons"] == log.loc[~eligible, "reason"].value_counts().to_dict()
    assert counts["not_eligible_reasons"]["PTSD severity below threshold"] == 13
    assert counts["not_randomized_reasons"] == {"declined participation": 5, "unable to attend study visits": 2}
    # trial data, counted here
    people = raw.drop_duplicates("participant")
    assert counts["randomized"] == len(people) == 27
    scored = raw[raw[["caps5", "pcl5", "madrs"]].notna().any(axis=1)]
    for arm, n in (("ketamine", 14), ("midazolam", 13)):
        c = counts["arms"][arm]
        assert c["allocated"] == int((people["arm"] == arm).sum()) == n
        assert c["received"] == n and c["not_received"] == 0
        for visit in POST:
            seen = scored[(scored["arm"] == arm) & (scored["visit"] == visit)]["participant"].nunique()
            assert c["follow_up"][visit]["assessed"] == seen
            assert c["follow_up"][visit]["assessed"] + c["follow_up"][visit]["lost"] \
                + c["follow_up"][visit]["missed"] == n
        post = raw[(raw["arm"] == arm) & raw["visit"].isin(POST) & raw["caps5"].notna()]
        assert c["analysed"] == post["participant"].nunique()
    # the shipped sample (data/demo/README.md): retention 13/13, 12/13, 11/13 and 14, 14, 13 of 14
    assert [counts["arms"]["midazolam"]["follow_up"][v]["assessed"] for v in POST] == [13, 12, 11]
    assert [counts["arms"]["ketamine"]["follow_up"][v]["assessed"] for v in POST] == [14, 14, 13]
    assert counts["arms"]["midazolam"]["follow_up"]["30d"]["newly_lost"] == 1


def test_consort_without_screening_log(tmp_path, analysis, config):
    bare = copy.deepcopy(config)
    bare.pop("feasibility")
    counts = rf.plot_consort(analysis, bare, None, tmp_path / "consort.png")
    _assert_png_svg(tmp_path / "consort.png")
    assert counts["screened"] is None and counts["excluded"] is None and counts["not_eligible_reasons"] == {}
    assert counts["randomized"] == 27
    with_counts = copy.deepcopy(bare)
    with_counts["feasibility"] = {"counts": {"screened": 40, "eligible": 30}}
    counts = rf.plot_consort(analysis, with_counts, None, tmp_path / "consort_counts.png")
    assert (counts["screened"], counts["not_eligible"], counts["eligible_not_randomized"]) == (40, 10, 3)


# --------------------------------------------------------------------------- mean score, forest


def test_mean_score_is_the_t_interval(tmp_path, analysis, config, raw):
    drawn = rf.plot_mean_score(analysis, "CAPS-5", config, tmp_path / "mean.png")
    x = raw[(raw["arm"] == "midazolam") & (raw["visit"] == "30d")]["caps5"].dropna().to_numpy(float)
    row = drawn[(drawn["arm"] == "midazolam") & (drawn["visit"] == "30d")].iloc[0]
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    assert row["n"] == x.size == 11
    assert row["mean"] == pytest.approx(x.mean())
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((x.mean() - half, x.mean() + half))


def test_mean_score_leaves_out_visits_without_data(tmp_path, analysis, config):
    drawn = rf.plot_mean_score(analysis, "Amygdala reactivity", config, tmp_path / "amygdala.png")
    assert sorted(set(drawn["visit"])) == ["30d", "baseline"]


def test_forest_rows_and_mcid(tmp_path, config, tables):
    drawn = rf.plot_forest(tables["contrasts"], config, tmp_path / "forest.png",
                           multiplicity=tables["multiplicity"], effect_sizes=tables["effect_sizes"])
    assert list(drawn["outcome"]) == ["CAPS-5", "CAPS-5", "PCL-5", "PCL-5", "MADRS", "MADRS"]
    assert list(drawn["visit"]) == ["24h", "30d"] * 3
    assert list(drawn["mcid"]) == [10, 10, 10, 10, 2, 2]
    mmrm = tables["contrasts"].query("model == 'mmrm' and outcome == 'PCL-5' and visit == '30d'").iloc[0]
    row = drawn.query("outcome == 'PCL-5' and visit == '30d'").iloc[0]
    assert row["estimate"] == pytest.approx(mmrm["estimate"])
    assert row["p_adjusted"] >= row["p_value"]
    assert np.isfinite(drawn["g"]).all()


def test_forest_without_mcid_or_key_visits(tmp_path, config, tables):
    plain = copy.deepcopy(config)
    for o in plain["outcomes"]:
        o.pop("mcid", None)
    plain["visits"].pop("key")
    drawn = rf.plot_forest(tables["contrasts"], plain, tmp_path / "forest.png")
    _assert_png_svg(tmp_path / "forest.png")
    assert drawn["mcid"].isna().all()
    assert list(drawn["visit"][:3]) == POST  # every post-baseline visit


# --------------------------------------------------------------------------- waterfall


def test_waterfall_percent_change_from_the_data(tmp_path, analysis, config, raw):
    drawn = rf.plot_waterfall(analysis, "CAPS-5", config, tmp_path / "waterfall.png")
    base = raw[raw["visit"] == "baseline"].set_index("participant")["caps5"]
    last = raw[(raw["visit"] == "30d") & raw["caps5"].notna()].set_index("participant")["caps5"]
    expected = ((last - base[last.index]) / base[last.index] * 100).rename("expected")
    assert len(drawn) == len(expected) == 24
    merged = drawn.set_index("participant").join(expected)
    np.testing.assert_allclose(merged["pct_change"], merged["expected"], rtol=0, atol=1e-12)
    assert list(drawn["pct_change"]) == sorted(drawn["pct_change"], reverse=True)
    # responders at 30d: at least 30% improvement, as in the responder table
    counts = drawn[drawn["pct_change"] <= -30 + 1e-9].groupby("arm").size()
    assert (counts["ketamine"], counts["midazolam"]) == (8, 2)


def test_waterfall_other_visit_and_zero_baseline(tmp_path, analysis, config):
    edited = analysis.copy()
    first = edited["participant"].iloc[0]
    mask = (edited["participant"] == first) & (edited["outcome"] == "CAPS-5")
    edited.loc[mask, "baseline"] = 0.0
    drawn = rf.plot_waterfall(edited, "CAPS-5", config, tmp_path / "waterfall.png", visit="24h")
    assert first not in set(drawn["participant"]) and len(drawn) == 26


# --------------------------------------------------------------------------- responders, missing, tipping


def test_responders_wilson_intervals(tmp_path, config, tables):
    drawn = rf.plot_responders(tables["responders"], config, tmp_path / "responders.png")
    assert len(drawn) == 2 * len(tables["responders"])
    row = drawn.query("outcome == 'CAPS-5' and definition == 'response' and visit == '24h' "
                      "and arm == 'ketamine'").iloc[0]
    assert (row["n"], row["N"]) == (9, 14)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(wilson_interval(9, 14))


def test_responders_without_remission_panel(tmp_path, config, tables):
    only_response = tables["responders"].query("definition == 'response'")
    drawn = rf.plot_responders(only_response, config, tmp_path / "responders.png")
    assert set(drawn["definition"]) == {"response"}
    _assert_png_svg(tmp_path / "responders.png")


def test_missing_pattern_matches_the_data(tmp_path, analysis, config, raw):
    drawn = rf.plot_missing_pattern(analysis, config, tmp_path / "missing.png")
    observed = raw.pivot(index="participant", columns="visit", values="caps5").notna()
    grid = drawn.set_index("participant")[["baseline"] + POST]
    pd.testing.assert_frame_equal(grid.sort_index(), observed.loc[:, ["baseline"] + POST].sort_index(),
                                  check_names=False)
    # arms grouped, reference first; the dropouts last within their arm
    assert list(drawn["arm"]) == ["midazolam"] * 13 + ["ketamine"] * 14
    assert list(drawn["participant"][11:13]) == ["PT-4TYU", "PT-M7OW"]
    assert drawn["participant"].iloc[-1] == "PT-2QO5"


def test_tipping_summary(tmp_path, config, tables):
    summary = rf.plot_tipping(tables["tipping"], config, tmp_path / "tipping.png")
    assert list(summary["outcome"]) == ["CAPS-5", "PCL-5", "MADRS"]
    for row in summary.itertuples():
        part = tables["tipping"][tables["tipping"]["outcome"] == row.outcome]
        assert row.conclusion_at_zero == part["conclusion"].iloc[0]
        expected = part["tipping_delta"].iloc[0]
        assert (math.isnan(row.tipping_delta) and math.isnan(expected)) or row.tipping_delta == expected


def test_tipping_marks_a_changed_conclusion(tmp_path, config, tables):
    edited = tables["tipping"].copy()
    pcl = edited["outcome"] == "PCL-5"
    edited.loc[pcl & (edited["delta"] >= 7), "conclusion"] = "significant harm"
    edited.loc[pcl, "tipping_delta"] = 7.0
    summary = rf.plot_tipping(edited, config, tmp_path / "tipping.png").set_index("outcome")
    assert summary.loc["PCL-5", "tipping_delta"] == 7.0
    assert summary.loc["PCL-5", "conclusion_after"] == "significant harm"


# --------------------------------------------------------------------------- residuals


def _simulated_analysis(n_subjects: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """simulate_trial in the analysis-table shape: BASE is the baseline score, Y the change."""
    sim = simulate_trial(n_subjects, n_visits=4, seed=seed, dropout=0.2)
    visits = [str(v) for v in sim["AVISIT"].cat.categories]
    post = pd.DataFrame({"participant": sim["USUBJID"], "arm": sim["ARMCD"].astype(str),
                         "visit": sim["AVISIT"].astype(str), "baseline": sim["BASE"],
                         "score": sim["BASE"] + sim["Y"], "change": sim["Y"]})
    first = post.drop_duplicates("participant")
    baseline = first.assign(visit="baseline", score=first["baseline"], change=0.0)
    analysis = pd.concat([baseline, post], ignore_index=True).assign(outcome="Y")
    config = {"arms": {"reference": "PBO", "treatment": "TRT"},
              "visits": {"baseline": "baseline", "order": ["baseline"] + visits, "key": [visits[-1]]},
              "outcomes": [{"name": "Y", "column": "y", "primary": True, "better": "higher"}],
              "analysis": {"alpha": 0.05, "covariance": "us", "fallback": ["cs"], "df_method": "satterthwaite",
                           "response": "change", "covariates": [], "strata": []}}
    return analysis, config


def test_standardized_residuals_are_standard_normal_on_a_large_trial(tmp_path):
    analysis, config = _simulated_analysis(600, seed=20261121)
    res = rf.plot_residuals(analysis, "Y", config, tmp_path / "residuals.png")
    _assert_png_svg(tmp_path / "residuals.png")
    z = res["standardized"].to_numpy()
    assert len(z) == analysis["change"].notna().sum() - 600  # post-baseline observations
    assert abs(z.mean()) < 0.05
    assert z.std(ddof=1) == pytest.approx(1.0, abs=0.05)
    for _, by_visit in res.groupby("visit"):
        assert by_visit["standardized"].std(ddof=1) == pytest.approx(1.0, abs=0.1)
    assert stats.kstest(z, "norm").pvalue > 0.01
    # raw residuals are not standardized: their SD grows from 2 to 3.5 over the visits
    assert res.groupby("visit")["residual"].std().iloc[-1] > 1.5


def test_cholesky_residuals_by_hand(analysis, config):
    fit = fit_outcome_mmrm(analysis, "CAPS-5", config)
    res = fit.residuals()
    sigma = fit.covariance  # visits x visits DataFrame
    one = res[res["participant"] == res["participant"].iloc[0]]
    visits = list(one["visit"])
    chol = np.linalg.cholesky(sigma.loc[visits, visits].to_numpy())
    np.testing.assert_allclose(one["standardized"], np.linalg.solve(chol, one["residual"]), atol=1e-10)
    # PT-2IKG (ketamine, baseline 41, changes -29, -24, -21) from the coefficients by name
    b = dict(zip(fit.terms, fit.beta))
    pt = res[res["participant"] == "PT-2IKG"].set_index("visit")
    common = b["Intercept"] + 41 * b["baseline"] + b["arm[T.ketamine]"]
    fitted = {"24h": common,
              "7d": common + b["visit[T.7d]"] + b["arm[T.ketamine]:visit[T.7d]"],
              "30d": common + b["visit[T.30d]"] + b["arm[T.ketamine]:visit[T.30d]"]}
    for visit, change in (("24h", -29.0), ("7d", -24.0), ("30d", -21.0)):
        assert pt.loc[visit, "fitted"] == pytest.approx(fitted[visit], abs=1e-10)
        assert pt.loc[visit, "residual"] == pytest.approx(change - fitted[visit], abs=1e-10)
    # the first visit's Cholesky residual is its Pearson residual
    np.testing.assert_allclose(res.loc[res["visit"] == "24h", "standardized"],
                               res.loc[res["visit"] == "24h", "pearson"], atol=1e-12)


# --------------------------------------------------------------------------- Table 1


def _smd_continuous(t, r):
    return abs(statistics.mean(t) - statistics.mean(r)) / math.sqrt(
        (statistics.variance(t) + statistics.variance(r)) / 2)


def test_table_one_smd_by_hand(analysis, config, raw):
    table = rf.table_one(analysis, raw, config)
    people = raw[raw["visit"] == "baseline"]
    ket, mid = people[people["arm"] == "ketamine"], people[people["arm"] == "midazolam"]

    def smd(variable):
        return table[(table["variable"] == variable) & table["smd"].notna()]["smd"].iloc[0]

    assert smd("age") == pytest.approx(_smd_continuous(list(ket["age"]), list(mid["age"])), abs=1e-12)
    p_t, p_r = (ket["sex"] == "F").mean(), (mid["sex"] == "F").mean()
    by_hand = abs(p_t - p_r) / math.sqrt((p_t * (1 - p_t) + p_r * (1 - p_r)) / 2)
    assert smd("sex") == pytest.approx(by_hand, abs=1e-12)
    assert smd("CAPS-5 at baseline") == pytest.approx(
        _smd_continuous(list(ket["caps5"]), list(mid["caps5"])), abs=1e-12)
    # the PCL-5 imbalance of the shipped sample (README: mean 52.6 against 41.9)
    assert smd("PCL-5 at baseline") > 1.0


def test_table_one_layout(analysis, config, raw):
    table = rf.table_one(analysis, raw, config)
    assert list(table.columns) == ["variable", "level", "statistic", "midazolam", "ketamine", "overall", "smd"]
    assert table.iloc[0][["midazolam", "ketamine", "overall"]].tolist() == ["13", "14", "27"]
    variables = list(dict.fromkeys(table["variable"]))
    assert variables[:3] == ["n", "age", "sex"]
    assert "participant" not in variables and "caps5" not in variables
    sex_f = table[(table["variable"] == "sex") & (table["level"] == "F")].iloc[0]
    assert sex_f["ketamine"] == "9 (64.3%)" and sex_f["midazolam"] == "6 (46.2%)"
    age = table[(table["variable"] == "age") & (table["statistic"] == "mean (SD)")].iloc[0]
    ages = raw[(raw["visit"] == "baseline") & (raw["arm"] == "ketamine")]["age"]
    assert age["ketamine"] == f"{ages.mean():.1f} ({ages.std():.1f})"
    # text input (as pilottrial.data.read_trial_data returns it) gives the same table
    as_text = rf.table_one(analysis, pd.read_csv(DEMO / "ketamine_ptsd_demo.csv", dtype=str), config)
    pd.testing.assert_frame_equal(table, as_text)


def test_smd_three_levels_by_hand():
    treatment = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    reference = ["a"] * 2 + ["b"] * 4 + ["c"] * 4
    pt, pr = np.array([0.3, 0.2]), np.array([0.4, 0.4])  # levels b, c
    S = (np.diag(pt) - np.outer(pt, pt) + np.diag(pr) - np.outer(pr, pr)) / 2
    by_hand = math.sqrt((pt - pr) @ np.linalg.inv(S) @ (pt - pr))
    assert rf.standardized_mean_difference(treatment, reference, "categorical") == pytest.approx(by_hand)
    # two levels: the multivariate form is Austin's binary formula
    t2, r2 = ["x"] * 3 + ["y"] * 7, ["x"] * 6 + ["y"] * 4
    binary = abs(0.7 - 0.4) / math.sqrt((0.7 * 0.3 + 0.4 * 0.6) / 2)
    assert rf.standardized_mean_difference(t2, r2, "categorical") == pytest.approx(binary)
    assert rf.standardized_mean_difference([1, 1], [1, 1]) == 0.0
    assert math.isnan(rf.standardized_mean_difference([], [1, 2]))
