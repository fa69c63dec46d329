"""Sensitivity analyses: each method against a known answer, the randomization test's
validity by simulation, and the whole table end to end on the demo trial.

Known answers: statsmodels OLS and GEE computed here; pingouin called directly; scipy's
Mann-Whitney; brute-force Hodges-Lehmann and exact U distribution; the LMM of the primary
analysis; R geepack (fixed working correlation) and R wilcox.test when R is present (skipped
otherwise).
"""

import copy
import itertools
import shutil
import subprocess
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from conftest import require_r
from scipy import stats

from pilottrial.analyses.common import outcome_frame
from pilottrial.analyses.nonparametric import hodges_lehmann, mann_whitney_null_cdf
from pilottrial.analyses.sensitivity import (
    SENSITIVITY_COLUMNS,
    ancova_complete_case,
    fit_gee,
    gee_bias_reduced,
    lmm_random_intercept,
    mann_whitney,
    mixed_anova_complete_case,
    mmrm_structures,
    other_models,
    randomization_test,
    sensitivity_analyses,
)
from pilottrial.analyses.sensitivity.randomization import _ArmGLS, _randomization_p
from pilottrial.config import Trial
from pilottrial.config.load import validate_config
from pilottrial.models.mmrm import MMRMError, fit_mmrm
from pilottrial.models.primary import CONTRAST_COLUMNS, model_formula, model_frame

ANALYSES = ["ancova_complete_case", "mixed_anova_complete_case", "gee_bias_reduced", "randomization_test",
            "mann_whitney", "lmm_random_intercept", "mmrm_cs", "mmrm_ar1", "mmrm_toeph"]


@pytest.fixture(scope="module")
def trial(demo_config, demo_analysis):
    return demo_config, demo_analysis


@pytest.fixture(scope="module")
def demo_table(trial):
    config, analysis = trial
    start = time.perf_counter()
    table = sensitivity_analyses(analysis, config)
    return table, time.perf_counter() - start


def per_outcome(method, analysis, config, outcomes=None, **options):
    """``method`` (a primitive) on the model frame of each efficacy outcome (or ``outcomes``),
    with the config's arms, key visits and alpha, as :func:`sensitivity_analyses` calls it."""
    trial = Trial.from_config(config)
    names = outcomes or [o.name for o in trial.efficacy_outcomes]
    return pd.concat([method(model_frame(analysis, name, config), trial.reference, trial.treatment,
                             visits=trial.key_visits, alpha=trial.alpha, outcome=name, **options)
                      for name in names], ignore_index=True)


def randomization(analysis, config, outcomes=None):
    """The randomization test of each efficacy outcome with the config's settings (as the pipeline runs it)."""
    a = config["analysis"]
    trial = Trial.from_config(config)
    return pd.concat([randomization_test(frame, trial.reference, trial.treatment, visits=trial.key_visits,
                                         alpha=trial.alpha, outcome=name, participants=analysis[["participant", "arm"]],
                                         draws=a["randomization_draws"], seed=a["seed"], covariance=a["covariance"],
                                         fallback=a["fallback"], df_method=a["df_method"],
                                         formula=model_formula(frame, config))
                      for name in outcomes or [o.name for o in trial.efficacy_outcomes]
                      for frame in [model_frame(analysis, name, config)]], ignore_index=True)


def _arm_values(frame, visit, arm):
    return frame.loc[(frame["visit"] == visit) & (frame["arm"] == arm), "change"].to_numpy(float)


def _r_available(*packages):
    if shutil.which("Rscript") is None:
        return False
    code = ";".join(f"suppressMessages(library({p}))" for p in packages) or "1"
    return subprocess.run(["Rscript", "-e", code], capture_output=True).returncode == 0


# ---- end to end ---------------------------------------------------------------------------
def test_demo_table_has_every_analysis_outcome_and_key_visit(demo_table, trial):
    config, _ = trial
    table, seconds = demo_table
    assert list(table.columns) == CONTRAST_COLUMNS + ["analysis", "note"] == SENSITIVITY_COLUMNS
    assert len(table) == len(ANALYSES) * 3 * 2
    expected = [(o, a, v) for o in ["CAPS-5", "PCL-5", "MADRS"] for a in ANALYSES for v in ["24h", "30d"]]
    assert list(zip(table.outcome, table.analysis, table.visit)) == expected
    numbers = ["estimate", "ci_lower", "ci_upper", "p_value"]
    assert np.isfinite(table[numbers].to_numpy()).all()
    ranks = table.analysis == "mann_whitney"  # documented: no SE or df for a rank method
    assert table.loc[ranks, ["std_error", "df"]].isna().all().all()
    assert np.isfinite(table.loc[~ranks, ["std_error", "df"]].to_numpy()).all()
    assert (table.ci_lower < table.estimate).all() and (table.estimate < table.ci_upper).all()
    assert table.p_value.between(0, 1).all()
    assert not table.note.str.startswith("not estimable").any()
    assert seconds < 30, f"sensitivity_analyses took {seconds:.1f} s on the demo"


def test_demo_table_is_deterministic(demo_table, trial):
    config, analysis = trial
    pd.testing.assert_frame_equal(sensitivity_analyses(analysis, config), demo_table[0])


def test_only_efficacy_outcomes_and_documented_nans(trial):
    """A mechanism outcome is left out; an efficacy outcome measured at 30d only gets NaN rows
    with the reason at 24h and for the within-participant models, and no crash."""
    config, analysis = trial
    roi = analysis[analysis.outcome == "CAPS-5"].copy()
    roi["outcome"] = "ROI"
    roi.loc[roi.visit.isin(["24h", "7d"]), ["score", "change"]] = np.nan
    both = pd.concat([analysis, roi])
    config = copy.deepcopy(config)
    config["analysis"]["randomization_draws"] = 1000
    config["outcomes"].append({"name": "ROI", "column": "roi", "range": None, "better": "lower",
                               "primary": False, "role": "mechanism"})
    assert "ROI" not in set(sensitivity_analyses(both, config).outcome)
    config["outcomes"][-1]["role"] = "efficacy"
    table = sensitivity_analyses(both, config)
    roi_rows = table[table.outcome == "ROI"]
    assert len(roi_rows) == len(ANALYSES) * 2
    missing = roi_rows.estimate.isna()
    assert roi_rows.loc[missing, "note"].str.startswith("not estimable").all()
    assert roi_rows.loc[roi_rows.visit == "24h", "estimate"].isna().all()
    ancova_30d = roi_rows[(roi_rows.analysis == "ancova_complete_case") & (roi_rows.visit == "30d")].iloc[0]
    caps_30d = table[(table.outcome == "CAPS-5") & (table.analysis == "ancova_complete_case")
                     & (table.visit == "30d")].iloc[0]
    assert ancova_30d.estimate == pytest.approx(caps_30d.estimate)
    for name in ("randomization_test", "gee_bias_reduced", "mann_whitney"):
        assert np.isfinite(roi_rows[(roi_rows.analysis == name) & (roi_rows.visit == "30d")].p_value).all()


# ---- 1. ANCOVA -------------------------------------------------------------------------------
def test_ancova_equals_statsmodels_ols(trial):
    config, analysis = trial
    table = per_outcome(ancova_complete_case, analysis, config)
    for outcome, visit in itertools.product(["CAPS-5", "MADRS"], ["24h", "30d"]):
        at = analysis[(analysis.outcome == outcome) & (analysis.visit == visit)].dropna(subset=["change"])
        X = np.column_stack([np.ones(len(at)), at.baseline, (at.arm == "ketamine").astype(float)])
        ols = sm.OLS(at.change.to_numpy(float), X).fit()
        row = table[(table.outcome == outcome) & (table.visit == visit)].iloc[0]
        assert row.estimate == pytest.approx(ols.params[2], rel=1e-10)
        assert row.std_error == pytest.approx(ols.bse[2], rel=1e-10)
        assert row.df == ols.df_resid == len(at) - 3
        assert row.p_value == pytest.approx(ols.pvalues[2], rel=1e-8)
        np.testing.assert_allclose([row.ci_lower, row.ci_upper], ols.conf_int(0.05)[2], rtol=1e-10)


# ---- 2. mixed ANOVA ----------------------------------------------------------------------
def test_mixed_anova_matches_direct_pingouin(trial):
    import pingouin as pg

    config, analysis = trial
    table = per_outcome(mixed_anova_complete_case, analysis, config, outcomes=["PCL-5"])
    frame = model_frame(analysis, "PCL-5", config)
    counts = frame.groupby("participant").change.count()
    complete = frame[frame.participant.isin(counts.index[counts == 3])].copy()
    for col in ("arm", "visit"):
        complete[col] = complete[col].astype(str).astype(object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aov = pg.mixed_anova(data=complete, dv="change", within="visit", between="arm",
                             subject="participant", correction=True)
        p_gg = aov.set_index("Source").loc["Interaction", "p_GG_corr"]
        for visit in ("24h", "30d"):
            treated, control = _arm_values(complete, visit, "ketamine"), _arm_values(complete, visit, "midazolam")
            welch = pg.ttest(treated, control, correction=True, confidence=0.95).iloc[0]
            row = table[table.visit == visit].iloc[0]
            assert row.estimate == pytest.approx(treated.mean() - control.mean(), rel=1e-12)
            assert row.estimate / row.std_error == pytest.approx(welch["T"], rel=1e-10)
            assert row.df == pytest.approx(welch["dof"], rel=1e-10)
            assert row.p_value == pytest.approx(welch["p_val"], rel=1e-8)
            # pingouin prints the interval to 2 decimals; scipy's Welch interval is exact
            np.testing.assert_allclose([row.ci_lower, row.ci_upper], welch["CI95"], atol=0.005 + 1e-9)
            scipy_ci = stats.ttest_ind(treated, control, equal_var=False).confidence_interval(0.95)
            np.testing.assert_allclose([row.ci_lower, row.ci_upper], [scipy_ci.low, scipy_ci.high], rtol=1e-10)
            assert f"Greenhouse-Geisser p = {p_gg:.4g}" in row.note
            assert f"n = {complete.participant.nunique()}" in row.note


# ---- 3. GEE ------------------------------------------------------------------------------
def test_gee_bias_reduced_se_equals_statsmodels(trial):
    """Contrast SE = sqrt(c' V_MD c) with statsmodels' cov_type='bias_reduced' covariance; t on
    N - p df (27 - 7 on the demo)."""
    config, analysis = trial
    table = per_outcome(gee_bias_reduced, analysis, config)
    for outcome in ("CAPS-5", "PCL-5", "MADRS"):
        frame = model_frame(analysis, outcome, config)
        fit = smf.gee("change ~ baseline + arm * visit", groups="participant", data=frame,
                      cov_struct=sm.cov_struct.Exchangeable(),
                      family=sm.families.Gaussian()).fit(cov_type="bias_reduced")
        assert fit.cov_type == "bias_reduced"
        names = list(fit.params.index)
        for visit, interaction in (("24h", None), ("30d", "arm[T.ketamine]:visit[T.30d]")):
            c = np.zeros(len(names))
            c[names.index("arm[T.ketamine]")] = 1.0
            if interaction:
                c[names.index(interaction)] = 1.0
            row = table[(table.outcome == outcome) & (table.visit == visit)].iloc[0]
            assert row.estimate == pytest.approx(c @ fit.params, rel=1e-10)
            assert row.std_error == pytest.approx(np.sqrt(c @ fit.cov_params().to_numpy() @ c), rel=1e-10)
            if not interaction:  # a single coefficient: statsmodels' own bias-reduced bse
                assert row.std_error == pytest.approx(fit.bse["arm[T.ketamine]"], rel=1e-10)
            df = frame.participant.nunique() - len(names)  # N - p
            assert row.df == df
            assert row.p_value == pytest.approx(2 * stats.t.sf(abs(row.estimate / row.std_error), df), rel=1e-10)


GEE_R = r"""
suppressMessages(library(geepack))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); alpha <- as.numeric(args[2])
d$arm <- factor(d$arm, levels = c("midazolam", "ketamine"))
d$visit <- factor(d$visit, levels = c("24h", "7d", "30d"))
d <- d[order(d$participant, d$wave), ]
R <- matrix(alpha, 3, 3); diag(R) <- 1
zcor <- fixed2Zcor(R, id = d$participant, waves = d$wave)
fit <- geeglm(change ~ baseline + arm * visit, id = factor(participant), waves = wave, data = d,
              corstr = "fixed", zcor = zcor, std.err = "san.se")
X <- model.matrix(fit); e <- d$change - as.vector(X %*% coef(fit)); p <- ncol(X)
B <- matrix(0, p, p); blocks <- list()
for (i in unique(d$participant)) {
  r <- d$participant == i; Vi <- solve(R[d$wave[r], d$wave[r], drop = FALSE]); Xi <- X[r, , drop = FALSE]
  B <- B + t(Xi) %*% Vi %*% Xi; blocks[[length(blocks) + 1]] <- list(X = Xi, V = Vi, e = e[r])
}
Binv <- solve(B); M <- matrix(0, p, p)
for (b in blocks) {  # Mancl & DeRouen (2001), eq. (5)
  H <- b$X %*% Binv %*% t(b$X) %*% b$V
  s <- t(b$X) %*% b$V %*% solve(diag(nrow(H)) - H, b$e); M <- M + s %*% t(s)
}
out <- data.frame(term = names(coef(fit)), estimate = coef(fit), san_se = sqrt(diag(vcov(fit))),
                  md_se = sqrt(diag(Binv %*% M %*% Binv)))
write.csv(out, args[3], row.names = FALSE)
"""


def test_gee_matches_r_geepack(trial, tmp_path):
    """R geepack with the working correlation fixed at statsmodels' estimate gives the same
    coefficients and sandwich SEs; the Mancl-DeRouen SEs written out in R from geepack's fit
    equal statsmodels' bias-reduced SEs (geepack has no Mancl-DeRouen option of its own)."""
    require_r("geepack")
    config, analysis = trial
    frame = model_frame(analysis, "CAPS-5", config)
    fit = fit_gee(frame)
    robust = fit.model.fit(cov_type="robust")
    data = frame.assign(wave=frame.visit.cat.codes + 1)[["participant", "arm", "visit", "wave", "baseline", "change"]]
    data.to_csv(tmp_path / "caps.csv", index=False)
    alpha = float(np.atleast_1d(fit.model.cov_struct.dep_params)[0])
    (tmp_path / "gee.R").write_text(GEE_R)
    run = subprocess.run(["Rscript", str(tmp_path / "gee.R"), str(tmp_path / "caps.csv"), repr(alpha),
                          str(tmp_path / "out.csv")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(tmp_path / "out.csv").set_index("term")
    to_r = {"Intercept": "(Intercept)", "baseline": "baseline", "arm[T.ketamine]": "armketamine",
            "visit[T.7d]": "visit7d", "visit[T.30d]": "visit30d",
            "arm[T.ketamine]:visit[T.7d]": "armketamine:visit7d",
            "arm[T.ketamine]:visit[T.30d]": "armketamine:visit30d"}
    r = r.loc[[to_r[t] for t in fit.params.index]]
    np.testing.assert_allclose(fit.params, r.estimate, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(robust.bse, r.san_se, rtol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_robust_bc)), r.md_se, rtol=1e-5)


# ---- 4. randomization test ---------------------------------------------------------------
def _simulated_trial(rng, n_per_arm=8, effect=0.0, dropout=0.15):
    """A small trial: 3 post-baseline visits, unstructured correlated t(3) errors (heavy tails),
    random dropout at the last visit; ``effect`` added to the treated arm's changes."""
    n = 2 * n_per_arm
    sigma = np.array([[36.0, 25.0, 20.0], [25.0, 49.0, 30.0], [20.0, 30.0, 64.0]])
    errors = (rng.standard_t(3, size=(n, 3)) / np.sqrt(3.0)) @ np.linalg.cholesky(sigma).T
    baseline = rng.normal(30, 6, size=n).round()
    arm = np.repeat(["control", "active"], n_per_arm)
    change = -5 + np.array([0.0, -2.0, -3.0]) - 0.3 * (baseline[:, None] - 30) + errors
    change[arm == "active"] += effect
    change[rng.random(n) < dropout, 2] = np.nan
    rows = []
    for i in range(n):
        rows.append((f"P{i:02d}", arm[i], "baseline", baseline[i], 0.0))
        rows += [(f"P{i:02d}", arm[i], v, baseline[i], change[i, j]) for j, v in enumerate(["v1", "v2", "v3"])]
    table = pd.DataFrame(rows, columns=["participant", "arm", "visit", "baseline", "change"])
    table["outcome"] = "Y"
    table["score"] = table.baseline + table.change
    return table[["participant", "arm", "visit", "outcome", "baseline", "score", "change"]]


def _simulation_config(draws=1000, seed=1):
    return validate_config({
        "trial": {"name": "sim"}, "data": {"path": "sim.csv"},
        "columns": {"participant": "participant", "arm": "arm", "visit": "visit"},
        "arms": {"reference": "control", "treatment": "active"},
        "visits": {"baseline": "baseline", "order": ["baseline", "v1", "v2", "v3"], "key": ["v1", "v3"]},
        "outcomes": [{"name": "Y", "column": "y"}],
        "analysis": {"randomization_draws": draws, "seed": seed},
    })


def test_randomization_gls_equals_dense_gls(trial):
    """The vectorized statistic equals GLS with the full design and block-diagonal V built
    densely, for the observed and for permuted assignments."""
    config, analysis = trial
    frame = model_frame(analysis, "CAPS-5", config)
    null_fit = fit_mmrm(frame, "change ~ baseline + visit", subject="participant", visit="visit", covariance="us")
    sigma = null_fit.sigmas[0]
    participants = np.sort(analysis.participant.unique())
    gls = _ArmGLS(frame, participants, null_fit.design(frame), sigma)
    observed = np.array([analysis.loc[analysis.participant == p, "arm"].iloc[0] == "ketamine" for p in participants])
    rng = np.random.default_rng(7)
    assignments = np.vstack([observed] + [rng.permutation(observed) for _ in range(3)]).astype(float)
    delta, t = gls.statistics(assignments)
    rows = frame.sort_values(["participant", "visit"])
    codes = rows.visit.cat.codes.to_numpy()
    V = np.zeros((len(rows), len(rows)))
    start = 0
    for _, block in rows.groupby("participant", sort=True):
        k = len(block)
        idx = block.visit.cat.codes.to_numpy()
        V[start:start + k, start:start + k] = sigma[np.ix_(idx, idx)]
        start += k
    Vinv = np.linalg.inv(V)
    visit_dummies = np.eye(3)[codes]
    for d, assign in enumerate(assignments):
        a = pd.Series(assign, index=participants).loc[rows.participant].to_numpy()
        X = np.column_stack([np.ones(len(rows)), rows.baseline, visit_dummies[:, 1:], a,
                             a[:, None] * visit_dummies[:, 1:]])  # change ~ baseline + arm * visit
        cov = np.linalg.inv(X.T @ Vinv @ X)
        beta = cov @ X.T @ Vinv @ rows.change.to_numpy(float)
        for v, c_idx in ((0, [4]), (2, [4, 6])):
            c = np.zeros(X.shape[1])
            c[c_idx] = 1.0
            assert delta[d, v] == pytest.approx(c @ beta, rel=1e-9)
            assert t[d, v] == pytest.approx(c @ beta / np.sqrt(c @ cov @ c), rel=1e-9)


def test_randomization_p_values_are_uniform_under_the_null():
    """200 small trials (8 per arm, heavy-tailed errors, dropout) with no treatment effect:
    P(p <= 0.05) within binomial tolerance at each key visit, and p roughly uniform."""
    rng = np.random.default_rng(20261121)
    p_values = []
    for trial_number in range(200):
        simulated, config = _simulated_trial(rng), _simulation_config(draws=1000, seed=trial_number)
        # the p-value of randomization_test without the (unchanged) MMRM estimate, for speed
        test = _randomization_p(model_frame(simulated, "Y", config), simulated, "Y", "active", draws=1000,
                                seed=trial_number, fallback=config["analysis"]["fallback"])
        p_values.append(test["p_value"])
    p = pd.DataFrame(p_values)
    assert np.isfinite(p.to_numpy()).all()
    for visit in ("v1", "v3"):
        rejections = int((p[visit] <= 0.05).sum())
        assert stats.binomtest(rejections, 200, 0.05).pvalue > 0.001, (visit, rejections)
        assert stats.kstest(p[visit], "uniform").pvalue > 0.001, visit


def test_randomization_test_on_a_simulated_trial(monkeypatch):
    """The public function on a simulated trial equals its core; every draw keeps the observed
    allocation (8 per arm) and the draws are distinct permutations."""
    simulated, config = _simulated_trial(np.random.default_rng(5)), _simulation_config(draws=1000, seed=9)
    seen = []
    real_statistics = _ArmGLS.statistics

    def recording(self, assignment):
        seen.append(np.array(assignment))
        return real_statistics(self, assignment)

    monkeypatch.setattr(_ArmGLS, "statistics", recording)
    table = randomization(simulated, config)
    monkeypatch.undo()
    draws = np.vstack(seen[1:])  # seen[0] is the observed assignment
    assert draws.shape == (1000, 16) and (draws.sum(axis=1) == 8).all()
    assert len(np.unique(draws, axis=0)) > 950  # C(16, 8) = 12870 possible allocations
    core = _randomization_p(model_frame(simulated, "Y", config), simulated, "Y", "active", draws=1000, seed=9,
                            covariance="us", fallback=config["analysis"]["fallback"])
    assert list(table.visit) == ["v1", "v3"]
    np.testing.assert_array_equal(table.p_value, [core["p_value"]["v1"], core["p_value"]["v3"]])


def test_randomization_p_is_small_for_a_large_effect(trial):
    config, analysis = trial
    shifted = analysis.copy()
    treated = (shifted.arm == "ketamine") & (shifted.visit != "baseline") & (shifted.outcome == "CAPS-5")
    shifted.loc[treated, "change"] -= 25
    config = copy.deepcopy(config)
    config["analysis"]["randomization_draws"] = 2000
    table = randomization(shifted, config, outcomes=["CAPS-5"])
    assert (table.p_value < 0.002).all(), table.p_value


def test_randomization_p_depends_on_the_seed_only_by_monte_carlo_error(trial, demo_primary):
    config, analysis = trial
    first = randomization(analysis, config)
    again = randomization(analysis, config)
    pd.testing.assert_frame_equal(first, again)
    other_config = copy.deepcopy(config)
    other_config["analysis"]["seed"] = config["analysis"]["seed"] + 1
    other = randomization(analysis, other_config)
    draws = config["analysis"]["randomization_draws"]
    assert not np.array_equal(first.p_value, other.p_value)
    p = first.p_value.to_numpy()
    tolerance = 4 * np.sqrt(2 * p * (1 - p) / draws) + 2 / draws
    assert (np.abs(first.p_value - other.p_value) <= tolerance).all()
    # the row reports the primary MMRM; only the p-value is the randomization p
    primary, _ = demo_primary
    mmrm = primary[primary.model == "mmrm"].set_index(["outcome", "visit"])
    for _, row in first.iterrows():
        assert row.estimate == pytest.approx(mmrm.loc[(row.outcome, row.visit), "estimate"], rel=1e-12)
        assert row.ci_lower == pytest.approx(mmrm.loc[(row.outcome, row.visit), "ci_lower"], rel=1e-12)
        assert "re-randomization" in row.note
    assert (first.p_value >= 1 / (1 + draws)).all()


def test_randomization_progress_reports_draws_done(trial):
    """The primitive reports the draws of its outcome; the table builder the draws over all outcomes."""
    config, analysis = trial
    frame = model_frame(analysis, "CAPS-5", config)
    calls = []
    randomization_test(frame, "midazolam", "ketamine", draws=5000, progress=calls.append)
    assert calls == [2000, 4000, 5000]
    config = copy.deepcopy(config)
    config["analysis"]["randomization_draws"] = 5000
    calls = []
    sensitivity_analyses(analysis, config, progress=calls.append)
    assert calls == sorted(calls) and calls[-1] == 5000 * 3


# ---- 5. Mann-Whitney and Hodges-Lehmann --------------------------------------------------
def test_mann_whitney_p_equals_scipy_and_hodges_lehmann_equals_brute_force(trial):
    config, analysis = trial
    table = per_outcome(mann_whitney, analysis, config)
    for outcome, visit in itertools.product(["CAPS-5", "PCL-5", "MADRS"], ["24h", "30d"]):
        frame = model_frame(analysis, outcome, config)
        treated, control = _arm_values(frame, visit, "ketamine"), _arm_values(frame, visit, "midazolam")
        row = table[(table.outcome == outcome) & (table.visit == visit)].iloc[0]
        assert row.p_value == stats.mannwhitneyu(treated, control, alternative="two-sided").pvalue
        differences = [x - y for x in treated for y in control]
        assert row.estimate == np.median(differences)
        assert row.ci_lower <= row.estimate <= row.ci_upper
        assert row.ci_lower in differences and row.ci_upper in differences


def test_u_null_distribution_equals_enumeration():
    for n1, n2 in ((3, 5), (4, 4), (5, 2)):
        counts = np.zeros(n1 * n2 + 1)
        for chosen in itertools.combinations(range(n1 + n2), n1):  # ranks of x among 0..n1+n2-1
            counts[sum(chosen) - n1 * (n1 - 1) // 2] += 1
        np.testing.assert_allclose(mann_whitney_null_cdf(n1, n2), np.cumsum(counts) / counts.sum(), rtol=1e-12)


def test_hodges_lehmann_interval_matches_exact_scipy_and_coverage():
    rng = np.random.default_rng(3)
    x, y = rng.normal(2, 1, 9), rng.normal(0, 1, 11)
    result = hodges_lehmann(x, y, alpha=0.05)
    cdf = mann_whitney_null_cdf(9, 11)
    k = result["k"]
    assert cdf[k - 1] < 0.025 <= cdf[k]  # the order statistic of Hollander & Wolfe (R's qwilcox)
    assert result["coverage"] == pytest.approx(1 - 2 * cdf[k - 1]) and result["coverage"] >= 0.95
    # the exact null cdf agrees with scipy's exact Mann-Whitney p-value
    u = stats.mannwhitneyu(x, y, method="exact").statistic
    n = 9 * 11
    p_ours = min(1.0, 2 * min(cdf[int(u)], 1 - (cdf[int(u) - 1] if u >= 1 else 0.0)))
    assert p_ours == pytest.approx(stats.mannwhitneyu(x, y, method="exact").pvalue, rel=1e-9)
    assert 0 <= k <= n


def test_hodges_lehmann_matches_r_wilcox_test(tmp_path):
    if not _r_available():
        require_r()
    rng = np.random.default_rng(11)
    x, y = rng.normal(3, 2, 12).round(3), rng.normal(0, 2, 10).round(3)
    code = (f"x <- c({','.join(map(repr, x.tolist()))}); y <- c({','.join(map(repr, y.tolist()))}); "
            "w <- wilcox.test(x, y, conf.int = TRUE, exact = TRUE, conf.level = 0.95); "
            "cat(sprintf('%.17g', c(w$estimate, w$conf.int, w$p.value)))")
    run = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    estimate, lower, upper, p_value = map(float, run.stdout.split())
    ours = hodges_lehmann(x, y, alpha=0.05)
    assert ours["estimate"] == pytest.approx(estimate, abs=1e-9)
    assert (ours["ci_lower"], ours["ci_upper"]) == (pytest.approx(lower, abs=1e-9), pytest.approx(upper, abs=1e-9))
    # R's default for n < 50 without ties is the exact test; scipy's 'auto' would be asymptotic here
    assert stats.mannwhitneyu(x, y, method="exact").pvalue == pytest.approx(p_value, rel=1e-9)


# ---- 6. LMM and 7. MMRM structures -------------------------------------------------------
def test_lmm_rows_are_the_primary_lmm(trial, demo_primary):
    config, analysis = trial
    table = per_outcome(lmm_random_intercept, analysis, config).set_index(["outcome", "visit"])
    primary, _ = demo_primary
    lmm = primary[primary.model == "lmm"].set_index(["outcome", "visit"]).loc[table.index]
    for col in ("estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(table[col], lmm[col], rtol=1e-12)


def test_mmrm_cs_equals_random_intercept_lmm(demo_table):
    """Compound symmetry with positive covariance is the random-intercept model: the REML fits
    agree to optimizer precision: estimates, SEs and intervals to 1e-4 relative; the
    Satterthwaite df (second derivatives of the likelihood) and so the p-values to 1e-3."""
    table = demo_table[0]
    cs = table[table.analysis == "mmrm_cs"].set_index(["outcome", "visit"])
    lmm = table[table.analysis == "lmm_random_intercept"].set_index(["outcome", "visit"]).loc[cs.index]
    for col in ("estimate", "std_error", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(cs[col], lmm[col], rtol=1e-4)
    np.testing.assert_allclose(cs["df"], lmm["df"], rtol=1e-3)
    np.testing.assert_allclose(cs["p_value"], lmm["p_value"], rtol=1e-3, atol=1e-6)


def test_a_structure_that_fails_gives_a_documented_nan_row(trial, monkeypatch):
    config, analysis = trial
    real_fit = other_models.fit_mmrm

    def failing_ar1(*args, covariance="us", **kwargs):
        if covariance == "ar1":
            raise MMRMError("the MMRM did not converge with any covariance structure in ['ar1']")
        return real_fit(*args, covariance=covariance, **kwargs)

    monkeypatch.setattr(other_models, "fit_mmrm", failing_ar1)
    table = per_outcome(mmrm_structures, analysis, config, structures=config["analysis"]["sensitivity_structures"])
    assert list(table.analysis.unique()) == ["mmrm_cs", "mmrm_ar1", "mmrm_toeph"]
    failed = table[table.analysis == "mmrm_ar1"]
    assert len(failed) == 6 and failed[["estimate", "std_error", "p_value"]].isna().all().all()
    assert failed.note.str.contains("not estimable: the MMRM did not converge").all()
    assert np.isfinite(table[table.analysis != "mmrm_ar1"].estimate).all()


def test_primitives_code_plain_rows_as_the_model_frame(trial):
    """A notebook user's rows (text labels, baseline rows and missing changes included) give the
    rows of the pipeline's model frame, once the post-baseline visits are named."""
    config, analysis = trial
    frame = model_frame(analysis, "PCL-5", config)
    plain = analysis[analysis.outcome == "PCL-5"]
    coded = outcome_frame(plain, "midazolam", "ketamine", visits=["24h", "7d", "30d"])
    pd.testing.assert_frame_equal(coded, frame)
    post = plain[plain.visit != "baseline"]
    for method in (ancova_complete_case, mixed_anova_complete_case, gee_bias_reduced, mann_whitney):
        pd.testing.assert_frame_equal(method(post, "midazolam", "ketamine"), method(frame, "midazolam", "ketamine"))
