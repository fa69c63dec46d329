"""Sensitivity analyses of a trial with three arms (issue 12): one model of all arms, each
comparison's contrast; the rank test per pair; the randomization test with k arm labels.

Data: the three-arm demo (config/dose_ranging.yaml). Known answers computed here: OLS and GLS
by numpy linear algebra, statsmodels GEE with the contrast built from its coefficients, scipy's
Welch t and Mann-Whitney, pingouin's mixed ANOVA, brute-force enumeration of every
re-randomization; R lm + emmeans and lme4/lmerTest + emmeans when R is present (``r``).
"""

import copy
import itertools
import subprocess

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from conftest import REPO_ROOT, require_r
from scipy import stats

from pilottrial.analyses.sensitivity import (
    FIXED_ANALYSES,
    NULL_FORMULA,
    SENSITIVITY_COLUMNS,
    ancova_complete_case,
    complete_cases,
    gee_bias_reduced,
    lmm_random_intercept,
    mann_whitney,
    mixed_anova_complete_case,
    mmrm_structures,
    randomization_test,
    sensitivity_analyses,
)
from pilottrial.analyses.sensitivity.randomization import _ArmGLS
from pilottrial.analyses.sensitivity.randomization_arms import _ArmsGLS
from pilottrial.config import Comparison, Trial, load_config
from pilottrial.data import load_trial
from pilottrial.models.frame import model_frame
from pilottrial.models.mmrm import fit_mmrm

REFERENCE, LOW, HIGH = "midazolam", "ketamine-0.2", "ketamine-0.5"
TREATMENTS = [LOW, HIGH]
ALL_PAIRS = [Comparison(LOW, REFERENCE, LOW), Comparison(HIGH, REFERENCE, HIGH),
             Comparison(HIGH, LOW, f"{HIGH} vs {LOW}")]


@pytest.fixture(scope="module")
def dose_ranging():
    config = load_config(REPO_ROOT / "config" / "dose_ranging.yaml")
    return config, load_trial(config)


@pytest.fixture(scope="module")
def caps(dose_ranging):
    config, analysis = dose_ranging
    return model_frame(analysis, "CAPS-5", config)


def _row(table, name, visit):
    return table[(table["treatment"] == name) & (table["visit"] == visit)].iloc[0]


def _ols(at):
    """OLS of change on baseline and the two treatment indicators by numpy: (beta, cov, df)."""
    X = np.column_stack([np.ones(len(at)), at["baseline"], at["arm"] == LOW, at["arm"] == HIGH]).astype(float)
    y = at["change"].to_numpy(float)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    df = len(y) - X.shape[1]
    cov = np.sum((y - X @ beta) ** 2) / df * np.linalg.inv(X.T @ X)
    return beta, cov, df


def test_ancova_of_all_arms_matches_least_squares(caps):
    table = ancova_complete_case(caps, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, visits=["24h", "30d"])
    assert list(table.columns) == SENSITIVITY_COLUMNS + ["treatment"]
    assert list(zip(table["treatment"], table["visit"])) == [(c.name, v) for c in ALL_PAIRS for v in ("24h", "30d")]
    for visit in ("24h", "30d"):
        beta, cov, df = _ols(caps[caps["visit"] == visit])
        for comparison, c in zip(ALL_PAIRS, ([0, 0, 1, 0], [0, 0, 0, 1], [0, 0, -1, 1])):
            c = np.array(c, float)
            estimate, se = c @ beta, np.sqrt(c @ cov @ c)
            row = _row(table, comparison.name, visit)
            assert row["estimate"] == pytest.approx(estimate, rel=1e-10)
            assert row["std_error"] == pytest.approx(se, rel=1e-10)
            assert row["df"] == df
            assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(estimate / se), df), rel=1e-8)
            half = stats.t.ppf(0.975, df) * se
            assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((estimate - half, estimate + half), rel=1e-10)
    # default comparisons: each treatment minus the reference, the same numbers
    default = ancova_complete_case(caps, REFERENCE, TREATMENTS, visits=["24h", "30d"])
    pd.testing.assert_frame_equal(default, table.iloc[:4].reset_index(drop=True))


def test_an_arm_without_participants_at_a_visit_leaves_its_comparisons_not_estimable(caps):
    damaged = caps[~((caps["arm"] == HIGH) & (caps["visit"] == "24h"))]
    table = ancova_complete_case(damaged, REFERENCE, TREATMENTS, visits=["24h", "30d"])
    assert np.isnan(_row(table, HIGH, "24h")["estimate"])
    assert _row(table, HIGH, "24h")["note"].startswith("not estimable")
    at = damaged[damaged["visit"] == "24h"]
    X = np.column_stack([np.ones(len(at)), at["baseline"], at["arm"] == LOW]).astype(float)
    beta, *_ = np.linalg.lstsq(X, at["change"].to_numpy(float), rcond=None)  # the two arms left
    assert _row(table, LOW, "24h")["estimate"] == pytest.approx(beta[2], rel=1e-10)
    assert _row(table, LOW, "24h")["df"] == len(at) - 3
    assert _row(table, HIGH, "30d")["note"].startswith("OLS")


ANCOVA_LMM_R = """
suppressMessages({library(emmeans); library(lme4); library(lmerTest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); d$arm <- factor(d$arm, levels = c("midazolam", "ketamine-0.2", "ketamine-0.5"))
d$visit <- factor(d$visit, levels = c("24h", "7d", "30d"))
out <- NULL
for (v in c("24h", "30d")) {
  fit <- lm(change ~ baseline + arm, data = d[d$visit == v, ])
  s <- as.data.frame(pairs(emmeans(fit, ~ arm), reverse = TRUE, adjust = "none"))
  out <- rbind(out, data.frame(analysis = "ancova", visit = v, contrast = s$contrast, estimate = s$estimate,
                               se = s$SE, df = s$df, p = s$p.value))
}
fit <- lmer(change ~ baseline + arm * visit + (1 | participant), data = d, REML = TRUE)
s <- as.data.frame(pairs(emmeans(fit, ~ arm | visit, lmer.df = "satterthwaite"), reverse = TRUE, adjust = "none"))
out <- rbind(out, data.frame(analysis = "lmm", visit = s$visit, contrast = s$contrast, estimate = s$estimate,
                             se = s$SE, df = s$df, p = s$p.value))
write.csv(out, args[2], row.names = FALSE)
"""


@pytest.mark.r
def test_ancova_and_random_intercept_lmm_match_r_emmeans(caps, tmp_path):
    """R lm + emmeans (pairs, unadjusted) per visit and lme4/lmerTest + emmeans (Satterthwaite)
    give each comparison's estimate, SE, df and p of the models of all three arms."""
    require_r("emmeans", "lme4", "lmerTest")
    caps[["participant", "arm", "visit", "baseline", "change"]].astype({"arm": str, "visit": str}).to_csv(
        tmp_path / "caps.csv", index=False)
    (tmp_path / "fit.R").write_text(ANCOVA_LMM_R)
    run = subprocess.run(["Rscript", str(tmp_path / "fit.R"), str(tmp_path / "caps.csv"), str(tmp_path / "out.csv")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(tmp_path / "out.csv")
    r["contrast"] = r["contrast"].astype(str).str.replace("(", "").str.replace(")", "")  # emmeans brackets some labels
    ancova = ancova_complete_case(caps, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, visits=["24h", "30d"])
    lmm = lmm_random_intercept(caps, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, visits=["24h", "30d"])
    for name, table, rel_df in (("ancova", ancova, 1e-12), ("lmm", lmm, 1e-3)):
        for comparison in ALL_PAIRS:
            label = f"{comparison.treatment} - {comparison.reference}"
            for visit in ("24h", "30d"):
                ours = _row(table, comparison.name, visit)
                theirs = r[(r["analysis"] == name) & (r["visit"] == visit)
                           & (r["contrast"] == label)]
                assert len(theirs) == 1, (name, label, r["contrast"].unique())
                theirs = theirs.iloc[0]
                assert ours["estimate"] == pytest.approx(theirs["estimate"], rel=1e-6)
                assert ours["std_error"] == pytest.approx(theirs["se"], rel=1e-5)
                assert ours["df"] == pytest.approx(theirs["df"], rel=rel_df)
                assert ours["p_value"] == pytest.approx(theirs["p"], rel=1e-3)


def test_gee_of_all_arms_matches_statsmodels_coefficients(caps):
    table = gee_bias_reduced(caps, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, visits=["24h", "30d"])
    frame = caps.assign(arm=caps["arm"].astype(str), visit=caps["visit"].astype(str))
    fit = smf.gee("change ~ baseline + C(arm, Treatment('midazolam')) * C(visit, Treatment('24h'))",
                  groups="participant", data=frame, cov_struct=sm.cov_struct.Exchangeable(),
                  family=sm.families.Gaussian()).fit(cov_type="bias_reduced")
    names = list(fit.params.index)

    def effect(arm, visit):  # arm minus reference at visit, as a vector over the coefficients
        c = np.zeros(len(names))
        if arm == REFERENCE:
            return c
        main = [n for n in names if f"[T.{arm}]" in n and ":" not in n][0]
        c[names.index(main)] = 1.0
        if visit != "24h":
            c[[i for i, n in enumerate(names) if f"[T.{arm}]" in n and f"[T.{visit}]" in n][0]] = 1.0
        return c

    df = fit.model.num_group - len(names)
    for comparison in ALL_PAIRS:
        for visit in ("24h", "30d"):
            c = effect(comparison.treatment, visit) - effect(comparison.reference, visit)
            row = _row(table, comparison.name, visit)
            assert row["estimate"] == pytest.approx(c @ fit.params.to_numpy(), rel=1e-8)
            assert row["std_error"] == pytest.approx(np.sqrt(c @ fit.cov_robust_bc @ c), rel=1e-8)
            assert row["df"] == df == 40 - 10


@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_mixed_anova_of_all_arms_and_welch_per_pair(caps):
    table = mixed_anova_complete_case(caps, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, visits=["24h", "30d"])
    complete = complete_cases(caps, ["24h", "7d", "30d"])
    aov = pg.mixed_anova(data=complete, dv="change", within="visit", between="arm", subject="participant",
                         correction=True)
    interaction = aov[aov["Source"] == "Interaction"].iloc[0]
    assert interaction["DF1"] == 4  # (3 arms - 1) x (3 visits - 1)
    assert f"= {interaction['F']:.3f}" in table["note"].iloc[0]
    for comparison in ALL_PAIRS:
        for visit in ("24h", "30d"):
            at = complete[complete["visit"] == visit]
            x, y = (at.loc[at["arm"] == a, "change"].to_numpy(float) for a in (comparison.treatment,
                                                                                comparison.reference))
            welch = stats.ttest_ind(x, y, equal_var=False)
            vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
            row = _row(table, comparison.name, visit)
            assert row["estimate"] == pytest.approx(x.mean() - y.mean(), rel=1e-12)
            assert row["std_error"] == pytest.approx(np.sqrt(vx + vy), rel=1e-12)
            assert row["df"] == pytest.approx((vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1)),
                                              rel=1e-8)
            assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-8)


def test_mann_whitney_per_pair_equals_the_two_arm_test(caps):
    table = mann_whitney(caps, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, visits=["24h", "30d"])
    for comparison in ALL_PAIRS:
        pair = caps[caps["arm"].isin(comparison.arms)].assign(
            arm=lambda d: d["arm"].astype(str)).reset_index(drop=True)
        two_arm = mann_whitney(pair, comparison.reference, comparison.treatment, visits=["24h", "30d"])
        block = table[table["treatment"] == comparison.name].drop(columns="treatment").reset_index(drop=True)
        pd.testing.assert_frame_equal(block, two_arm)
        at = caps[caps["visit"] == "30d"]
        test = stats.mannwhitneyu(at.loc[at["arm"] == comparison.treatment, "change"],
                                  at.loc[at["arm"] == comparison.reference, "change"], alternative="two-sided")
        assert _row(table, comparison.name, "30d")["p_value"] == pytest.approx(test.pvalue, rel=1e-12)


def test_other_structures_fit_all_arms_once(caps):
    table = mmrm_structures(caps, REFERENCE, TREATMENTS, structures=["cs", "ar1"], comparisons=ALL_PAIRS,
                            visits=["24h", "30d"])
    assert list(zip(table["treatment"], table["analysis"], table["visit"])) == [
        (c.name, f"mmrm_{s}", v) for c in ALL_PAIRS for s in ("cs", "ar1") for v in ("24h", "30d")]
    for structure in ("cs", "ar1"):
        fit = fit_mmrm(caps, "change ~ baseline + arm * visit", subject="participant", visit="visit",
                       covariance=structure, fallback=None)
        rows = table[table["analysis"] == f"mmrm_{structure}"]
        for comparison in ALL_PAIRS:
            expected = fit.treatment_contrasts("arm", comparison.reference, comparison.treatment).set_index("visit")
            for visit in ("24h", "30d"):
                row = _row(rows, comparison.name, visit)
                assert row["estimate"] == pytest.approx(expected.loc[visit, "estimate"], rel=1e-10)
        # linear in the arm effects: high vs low = (high - ref) - (low - ref)
        assert _row(rows, ALL_PAIRS[2].name, "30d")["estimate"] == pytest.approx(
            _row(rows, HIGH, "30d")["estimate"] - _row(rows, LOW, "30d")["estimate"], rel=1e-8)


# ---- the randomization test with k arm labels ----------------------------------------------
def _direct_gls_t(frame, arm_of, sigma, comparisons, arms):
    """GLS t of each comparison at each visit in change ~ visit + baseline + arm:visit (cell
    coding, the span of change ~ baseline + arm * visit) with the visit covariance ``sigma``
    fixed; ``arm_of`` maps participant -> arm. Plain numpy, one participant at a time."""
    visits = list(frame["visit"].cat.categories)
    m, k = len(visits), len(arms)
    p = m + 1 + (k - 1) * m
    XtVX, XtVy = np.zeros((p, p)), np.zeros(p)
    for participant, rows in frame.groupby("participant", observed=True):
        idx = rows["visit"].cat.codes.to_numpy()
        X = np.zeros((len(rows), p))
        X[np.arange(len(rows)), idx] = 1.0
        X[:, m] = rows["baseline"].to_numpy(float)
        j = arms.index(arm_of[participant])
        if j > 0:
            X[np.arange(len(rows)), m + 1 + (j - 1) * m + idx] = 1.0
        Vinv = np.linalg.inv(sigma[np.ix_(idx, idx)])
        XtVX += X.T @ Vinv @ X
        XtVy += X.T @ Vinv @ rows["change"].to_numpy(float)
    cov = np.linalg.inv(XtVX)
    beta = cov @ XtVy
    t = []
    for comparison in comparisons:
        for v in range(m):
            c = np.zeros(p)
            for arm, sign in ((comparison.treatment, 1.0), (comparison.reference, -1.0)):
                j = arms.index(arm)
                if j > 0:
                    c[m + 1 + (j - 1) * m + v] += sign
            t.append(c @ beta / np.sqrt(c @ cov @ c))
    return np.array(t)


def _small_trial(n_per_arm=3, seed=5):
    """Three arms of ``n_per_arm``, two post-baseline visits, one change missing."""
    rng = np.random.default_rng(seed)
    arms = [REFERENCE, LOW, HIGH]
    rows = []
    for a, arm in enumerate(arms):
        for i in range(n_per_arm):
            baseline = float(rng.integers(30, 50))
            shared = rng.normal(0, 4)
            for v, visit in enumerate(("24h", "30d")):
                rows.append({"participant": f"P{a}{i}", "arm": arm, "visit": visit, "baseline": baseline,
                             "change": -3.0 * a - 2.0 * v - 0.2 * (baseline - 40) + shared + rng.normal(0, 3)})
    frame = pd.DataFrame(rows)
    frame = frame.drop(index=frame.index[-1]).reset_index(drop=True)  # last participant misses 30d
    frame["arm"] = pd.Categorical(frame["arm"], arms)
    frame["visit"] = pd.Categorical(frame["visit"], ["24h", "30d"])
    return frame


def test_k_arm_gls_with_two_arms_is_the_two_arm_statistic(caps):
    two = caps[caps["arm"].isin([REFERENCE, HIGH])].copy()
    two["arm"] = pd.Categorical(two["arm"].astype(str), [REFERENCE, HIGH])
    labels = np.array(sorted(two["participant"].unique()))
    null = fit_mmrm(two, NULL_FORMULA, subject="participant", visit="visit", covariance="us", df_method="residual")
    X0, sigma = null.design(two), null.sigmas[0]
    rng = np.random.default_rng(1)
    arm_of = two.drop_duplicates("participant").set_index("participant")["arm"].astype(str)
    observed = (arm_of.loc[labels] == HIGH).to_numpy(int)
    codes = np.array([rng.permutation(observed) for _ in range(50)])
    _, t_two = _ArmGLS(two, labels, X0, sigma).statistics(codes.astype(float))
    _, t_k = _ArmsGLS(two, labels, X0, sigma, 2, [(1, 0)]).statistics(codes)
    np.testing.assert_allclose(t_k, t_two, rtol=1e-10)


def test_k_arm_gls_statistic_matches_direct_gls(caps):
    labels = np.array(sorted(caps["participant"].unique()))
    null = fit_mmrm(caps, NULL_FORMULA, subject="participant", visit="visit", covariance="us", df_method="residual")
    arms = [REFERENCE, LOW, HIGH]
    arm_of = caps.drop_duplicates("participant").set_index("participant")["arm"].astype(str)
    pairs = [(arms.index(c.treatment), arms.index(c.reference)) for c in ALL_PAIRS]
    gls = _ArmsGLS(caps, labels, null.design(caps), null.sigmas[0], 3, pairs)
    rng = np.random.default_rng(2)
    observed = arm_of.loc[labels].map(arms.index).to_numpy()
    for codes in [observed, rng.permutation(observed), rng.permutation(observed)]:
        t = gls.statistics(codes[None, :])[1][0]
        expected = _direct_gls_t(caps, dict(zip(labels, np.array(arms)[codes])), null.sigmas[0], ALL_PAIRS, arms)
        np.testing.assert_allclose(t, expected, rtol=1e-8)


def test_exact_k_arm_randomization_p_by_brute_force():
    """3 arms x 3 participants: 9!/(3!3!3!) = 1680 assignments, all enumerated (draws 2000); each
    comparison's p is the share of assignments whose direct GLS |t| is at least the observed."""
    frame = _small_trial()
    arms = [REFERENCE, LOW, HIGH]
    table = randomization_test(frame, REFERENCE, TREATMENTS, comparisons=ALL_PAIRS, draws=2000, seed=3,
                               covariance="cs", outcome="toy")
    assert table["note"].str.startswith("exact re-randomization p (all 1680 assignments").all()
    null = fit_mmrm(frame, NULL_FORMULA, subject="participant", visit="visit", covariance="cs",
                    df_method="residual")
    participants = sorted(frame["participant"].unique())
    observed = frame.drop_duplicates("participant").set_index("participant")["arm"].astype(str)
    t_obs = _direct_gls_t(frame, observed.to_dict(), null.sigmas[0], ALL_PAIRS, arms)
    extreme, total = np.zeros(t_obs.size), 0
    for first in itertools.combinations(range(9), 3):
        rest = [i for i in range(9) if i not in first]
        for second in itertools.combinations(rest, 3):
            labels = np.full(9, HIGH, dtype=object)
            labels[list(first)], labels[list(second)] = REFERENCE, LOW
            t = _direct_gls_t(frame, dict(zip(participants, labels)), null.sigmas[0], ALL_PAIRS, arms)
            extreme += np.abs(t) >= np.abs(t_obs) * (1 - 1e-10)
            total += 1
    assert total == 1680
    expected = extreme / total
    for i, (comparison, visit) in enumerate(itertools.product(ALL_PAIRS, ("24h", "30d"))):
        assert _row(table, comparison.name, visit)["p_value"] == pytest.approx(expected[i], abs=1e-12)


def test_monte_carlo_k_arm_randomization_is_seeded_and_keeps_the_allocation(caps):
    kwargs = {"comparisons": ALL_PAIRS[:2], "visits": ["24h", "30d"], "draws": 300, "outcome": "CAPS-5"}
    first = randomization_test(caps, REFERENCE, TREATMENTS, seed=11, **kwargs)
    again = randomization_test(caps, REFERENCE, TREATMENTS, seed=11, **kwargs)
    other = randomization_test(caps, REFERENCE, TREATMENTS, seed=12, **kwargs)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["p_value"], other["p_value"])
    assert ((first["p_value"] >= 1 / 301) & (first["p_value"] <= 1)).all()
    assert first["note"].str.contains("300 permutations of the 3 arm labels").all()
    # estimates are those of the MMRM of all arms
    fit = fit_mmrm(caps, "change ~ baseline + arm * visit", subject="participant", visit="visit", covariance="us")
    expected = fit.treatment_contrasts("arm", REFERENCE, HIGH).set_index("visit")
    assert _row(first, HIGH, "30d")["estimate"] == pytest.approx(expected.loc["30d", "estimate"], rel=1e-8)


@pytest.mark.parametrize("mode", ["vs_reference", "all_pairs"])
def test_sensitivity_table_of_three_arms(dose_ranging, mode):
    config, analysis = dose_ranging
    config = copy.deepcopy(config)
    config["analysis"]["comparisons"] = mode
    config["analysis"]["randomization_draws"] = 500
    trial = Trial.from_config(config)
    table = sensitivity_analyses(analysis, trial)
    assert list(table.columns) == SENSITIVITY_COLUMNS + ["treatment"]
    analyses = list(FIXED_ANALYSES) + [f"mmrm_{s}" for s in config["analysis"]["sensitivity_structures"]]
    expected = [(c.name, o, a, v) for c in trial.comparisons for o in ("CAPS-5", "PCL-5", "MADRS")
                for a in analyses for v in ("24h", "30d")]
    assert list(zip(table["treatment"], table["outcome"], table["analysis"], table["visit"])) == expected
    assert not table["note"].str.startswith("not estimable").any()
    assert table.drop(columns=["std_error", "df"])[table["analysis"] != "mann_whitney"].notna().all().all()
    # each row is its primitive's row of the model of all arms
    ancova = ancova_complete_case(model_frame(analysis, "PCL-5", config), REFERENCE, TREATMENTS,
                                  comparisons=trial.comparisons, visits=["24h", "30d"])
    rows = table[(table["outcome"] == "PCL-5") & (table["analysis"] == "ancova_complete_case")]
    pd.testing.assert_frame_equal(rows.reset_index(drop=True),
                                  ancova.sort_values("treatment", key=lambda s: s.map(
                                      [c.name for c in trial.comparisons].index), kind="stable")
                                  .reset_index(drop=True))
