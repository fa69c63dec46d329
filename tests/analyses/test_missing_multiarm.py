"""Missing data with three or more arms: one imputation model of all arms, reference-based
imputation of every treatment arm towards the reference arm, one row per comparison, and the
tipping point of each comparison shifting its own treatment arm.

Independent references: statsmodels OLS of the completed data with all arms (and its
``t_test`` for a contrast between two treatment arms), the conditional-normal formula written
out per participant with the reference arm's mean from the imputation model's REML fit, the
MMRM of all arms (its own contrasts), pandas counts on the raw rows.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from conftest import REPO_ROOT

from pilottrial.analyses.missing import (
    MI_CONTRAST_COLUMNS,
    TIPPING_COLUMNS,
    ancova_arrays,
    ancova_contrast_arrays,
    fit_imputation_model,
    impute_arrays,
    mi_ancova,
    mi_contrasts,
    missing_data,
    tipping_point,
)
from pilottrial.config import Trial
from pilottrial.config.load import validate_config
from pilottrial.models.primary import model_frame

DEMO = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
VISITS = ["V1", "V2", "V3"]
ARMS = ["PBO", "LOW", "HIGH"]
SD = np.array([4.0, 4.5, 5.0])
CORR = np.array([[1.0, 0.6, 0.5], [0.6, 1.0, 0.6], [0.5, 0.6, 1.0]])
COV = CORR * np.outer(SD, SD)
EFFECTS = {"PBO": np.zeros(3), "LOW": np.array([-1.0, -2.0, -3.0]), "HIGH": np.array([-2.0, -4.0, -6.0])}


def three_arm_config(comparisons="vs_reference", imputations=20, better="lower", **analysis) -> dict:
    raw = copy.deepcopy(DEMO)
    raw["arms"] = {"reference": "PBO", "treatments": ["LOW", "HIGH"]}
    raw["visits"] = {"baseline": "BL", "order": ["BL"] + VISITS, "key": ["V2", "V3"]}
    raw["outcomes"] = [{"name": "Y", "column": "y", "better": better, "primary": True}]
    raw["analysis"] = {"imputations": imputations, "seed": 11, "comparisons": comparisons,
                       "tipping_delta_step": 2.0, "tipping_delta_max": 6.0, **analysis}
    return validate_config(raw)


def three_arm_trial(n_per_arm: int, seed: int, dropout: float = 0.3) -> pd.DataFrame:
    """Analysis table of a three-arm trial (PBO, LOW, HIGH): change = arm effect - 0.3 x centred
    baseline + correlated residual; monotone dropout after V1 with probability ``dropout`` per
    visit (``0``: complete data)."""
    rng = np.random.default_rng(seed)
    arm = np.repeat(ARMS, n_per_arm)
    n = arm.size
    baseline = np.round(rng.normal(40.0, 8.0, n))
    mean = np.stack([EFFECTS[a] for a in arm]) - 0.3 * (baseline[:, None] - 40.0) + np.array([-2.0, -3.0, -4.0])
    change = mean + rng.multivariate_normal(np.zeros(3), COV, size=n)
    gone = np.zeros(n, dtype=bool)
    for j in (1, 2):
        gone |= rng.random(n) < dropout
        change[gone, j] = np.nan
    rows = pd.DataFrame({
        "participant": np.repeat([f"S{i:03d}" for i in range(n)], 4), "arm": np.repeat(arm, 4),
        "visit": np.tile(["BL"] + VISITS, n), "outcome": "Y", "baseline": np.repeat(baseline, 4),
        "change": np.column_stack([np.zeros(n), change]).ravel()})
    rows["score"] = rows["baseline"] + rows["change"]
    return rows[["participant", "arm", "visit", "outcome", "baseline", "score", "change"]]


def ols_contrast(rows: pd.DataFrame, treatment: str, reference: str):
    """statsmodels OLS ``change ~ baseline + C(arm)`` with all arms (PBO the model's reference):
    the treatment - reference contrast as (estimate, SE, df)."""
    fit = smf.ols("change ~ baseline + C(arm, Treatment('PBO'))", data=rows).fit()
    names = {a: f"C(arm, Treatment('PBO'))[T.{a}]" for a in ARMS[1:]}
    c = np.zeros(len(fit.params))
    for label, sign in ((treatment, 1.0), (reference, -1.0)):
        if label != "PBO":
            c[list(fit.params.index).index(names[label])] += sign
    test = fit.t_test(c)
    return float(np.squeeze(test.effect)), float(np.squeeze(test.sd)), float(fit.df_resid)


# ---- the ANCOVA of all arms -------------------------------------------------------------------
def test_ancova_contrast_arrays_is_the_ols_of_all_arms_and_the_two_arm_ancova_with_two():
    rows = three_arm_trial(12, seed=2, dropout=0.0)
    at = rows[rows.visit == "V3"]
    for treatment, reference in (("LOW", "PBO"), ("HIGH", "PBO"), ("HIGH", "LOW")):
        est, var, df = ancova_contrast_arrays(at.change.to_numpy(), at.baseline.to_numpy(), at.arm.to_numpy(),
                                              ARMS, treatment, reference)
        ref_est, ref_se, ref_df = ols_contrast(at, treatment, reference)
        assert est == pytest.approx(ref_est, rel=1e-10)
        assert np.sqrt(var) == pytest.approx(ref_se, rel=1e-10)
        assert df == ref_df == len(at) - 4
    two = at[at.arm != "HIGH"]
    est, var, df = ancova_contrast_arrays(two.change.to_numpy(), two.baseline.to_numpy(), two.arm.to_numpy(),
                                          ["PBO", "LOW"], "LOW")
    q, u, df2 = ancova_arrays(two.change.to_numpy(), two.baseline.to_numpy(), (two.arm == "LOW").to_numpy())
    assert (float(est), float(var), df) == pytest.approx((float(q), float(u), df2), rel=1e-10)


@pytest.mark.parametrize("comparisons", ["vs_reference", "all_pairs"])
def test_without_missing_data_every_method_and_comparison_is_the_ancova_of_all_arms(comparisons):
    config = three_arm_config(comparisons)
    trial = Trial.from_config(config)
    analysis = three_arm_trial(10, seed=4, dropout=0.0)
    table = mi_contrasts(analysis, config)
    assert list(table.columns) == MI_CONTRAST_COLUMNS + ["treatment"]
    names = [c.name for c in trial.comparisons]
    assert names == (["LOW", "HIGH"] + (["HIGH vs LOW"] if comparisons == "all_pairs" else []))
    # rows of a comparison together, in Trial.comparisons order; inside: visit, then method
    assert list(dict.fromkeys(table.treatment)) == names
    block = table[table.treatment == names[0]]
    assert list(block.visit) == ["V2"] * 4 + ["V3"] * 4
    assert list(block.analysis) == ["mi_mar", "mi_j2r", "mi_cir", "mi_cr"] * 2
    for comparison in trial.comparisons:
        for visit in ("V2", "V3"):
            est, se, df = ols_contrast(analysis[analysis.visit == visit], comparison.treatment, comparison.reference)
            rows = table[(table.treatment == comparison.name) & (table.visit == visit)]
            assert len(rows) == 4
            np.testing.assert_allclose(rows.estimate, est, rtol=1e-9)
            np.testing.assert_allclose(rows.std_error, se, rtol=1e-9)
            np.testing.assert_allclose(rows.df, df)
            assert (rows.fraction_missing_info == 0).all()


# ---- imputation of all arms ---------------------------------------------------------------------
@pytest.mark.parametrize("method", ["mar", "j2r", "cir", "cr"])
def test_every_treatment_arm_is_imputed_towards_the_reference_arm(method):
    """At the REML estimates, each participant's imputation mean is mu[m] + S_mo S_oo^-1 (y_o - mu[o])
    with the method's profile built from their own arm's and the REFERENCE arm's means (PBO for
    LOW and HIGH alike), written out here per participant."""
    config = three_arm_config()
    analysis = three_arm_trial(30, seed=6, dropout=0.35)
    fit = fit_imputation_model(model_frame(analysis, "Y", config), "us")
    assert fit.n_subjects == 90
    completed = impute_arrays(analysis, "PBO", ["LOW", "HIGH"], VISITS, method=method, n_imputations=2,
                              parameter_draws=False, fit=fit, outcome="Y")
    assert completed.arms == ("PBO", "LOW", "HIGH") and completed.reference == "PBO"
    sigma = fit.sigmas[0]
    wide = analysis[analysis.visit != "BL"].pivot(index="participant", columns="visit", values="change")[VISITS]
    people = analysis.drop_duplicates("participant").set_index("participant")
    checked = {"LOW": 0, "HIGH": 0}
    for i, who in enumerate(completed.participants):
        y = wide.loc[who].to_numpy()
        obs = ~np.isnan(y)
        if obs.all():
            continue
        arm = people.loc[who].arm
        grid = pd.DataFrame({"visit": VISITS, "baseline": people.loc[who].baseline, "arm": arm})
        own = fit.design(grid) @ fit.beta
        ref = fit.design(grid.assign(arm="PBO")) @ fit.beta
        last = int(np.flatnonzero(obs).max())
        mu = own.copy()
        if arm != "PBO" and method != "mar":
            after = slice(last + 1, None)
            mu[after] = {"j2r": ref[after], "cir": own[last] + ref[after] - ref[last], "cr": ref[after]}[method]
            if method == "cr":
                mu = ref.copy()
        mis = ~obs
        gain = sigma[np.ix_(mis, obs)] @ np.linalg.inv(sigma[np.ix_(obs, obs)])
        expected = mu[mis] + gain @ (y[obs] - mu[obs])
        np.testing.assert_allclose(completed.conditional_mean[0, i, mis], expected, rtol=1e-9, atol=1e-9)
        checked[arm] = checked.get(arm, 0) + (arm != "PBO")
    assert checked["LOW"] >= 3 and checked["HIGH"] >= 3


def test_mi_under_mar_reproduces_the_mmrm_of_all_arms():
    """MI under MAR with the congenial imputation model: each comparison's pooled estimate is
    the imputation MMRM's own contrast up to Monte Carlo error, with a similar SE."""
    config = three_arm_config(comparisons="all_pairs")
    trial = Trial.from_config(config)
    analysis = three_arm_trial(40, seed=8, dropout=0.25)
    fit = fit_imputation_model(model_frame(analysis, "Y", config), "us")
    M = 200
    completed = impute_arrays(analysis, "PBO", ["LOW", "HIGH"], VISITS, n_imputations=M, seed=3, fit=fit,
                              outcome="Y")
    for comparison in trial.comparisons:
        mmrm = fit.treatment_contrasts("arm", comparison.reference, comparison.treatment).set_index("visit").loc["V3"]
        pooled = mi_ancova(completed, "V3", comparison=comparison).iloc[0]
        monte_carlo_se = np.sqrt(pooled.between_variance / M)
        assert abs(pooled.estimate - mmrm.estimate) < 3 * monte_carlo_se + 0.02 * mmrm.std_error, comparison
        assert pooled.std_error == pytest.approx(mmrm.std_error, rel=0.1)
    with pytest.raises(ValueError, match="pass the comparison"):
        mi_ancova(completed, "V3")


def test_reference_based_imputation_shrinks_each_dose_towards_the_reference():
    config = three_arm_config(imputations=100)
    analysis = three_arm_trial(40, seed=9, dropout=0.35)
    table = mi_contrasts(analysis, config).query("visit == 'V3'").set_index(["treatment", "analysis"])
    for arm in ("LOW", "HIGH"):
        mar, j2r = table.loc[(arm, "mi_mar"), "estimate"], table.loc[(arm, "mi_j2r"), "estimate"]
        assert mar < j2r < 0.5  # lower is better; J2R moves the effect of dropouts to the reference's


# ---- tipping point --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tipping():
    config = three_arm_config(imputations=30)
    analysis = three_arm_trial(25, seed=12, dropout=0.3)
    return config, analysis, tipping_point(analysis, config), mi_contrasts(analysis, config, methods=("mar",))


def test_tipping_point_has_one_block_per_comparison_and_starts_at_mi_mar(tipping):
    config, analysis, table, mi = tipping
    assert list(table.columns) == TIPPING_COLUMNS + ["treatment"]
    assert list(table.treatment) == ["LOW"] * 4 + ["HIGH"] * 4
    assert list(table.delta) == [0.0, 2.0, 4.0, 6.0] * 2
    assert (table.visit == "V3").all()
    for arm in ("LOW", "HIGH"):
        first = table[(table.treatment == arm) & (table.delta == 0)].iloc[0]
        mar = mi[(mi.treatment == arm) & (mi.visit == "V3")].iloc[0]
        for col in ("estimate", "std_error", "df", "ci_lower", "ci_upper"):
            assert first[col] == pytest.approx(mar[col], rel=1e-12)


def test_tipping_point_shifts_only_its_own_treatment_arm(tipping):
    """The estimate moves by delta times the OLS coefficient (statsmodels, all arms) of the
    indicator of that arm's imputed values at the visit: the other dose's imputed values are not
    shifted."""
    config, analysis, table, _ = tipping
    at = analysis[analysis.visit == "V3"].copy()
    for arm in ("LOW", "HIGH"):
        at["shift"] = ((at.arm == arm) & at.change.isna()).astype(float)  # lower is better: +delta
        assert at["shift"].sum() >= 2
        fit = smf.ols("shift ~ baseline + C(arm, Treatment('PBO'))", data=at).fit()
        slope = float(fit.params[f"C(arm, Treatment('PBO'))[T.{arm}]"])
        rows = table[table.treatment == arm]
        np.testing.assert_allclose(rows.estimate - rows.estimate.iloc[0], rows.delta * slope, rtol=1e-9, atol=1e-9)


# ---- summaries with k arms ----------------------------------------------------------------------
def test_missing_data_has_every_arm_in_config_order():
    config = three_arm_config()
    analysis = three_arm_trial(8, seed=13, dropout=0.3)
    table = missing_data(analysis, config)
    missingness = table[table.table == "missingness"]
    assert list(dict.fromkeys(missingness.arm)) == ARMS
    for arm in ARMS:
        rows = analysis[(analysis.arm == arm) & (analysis.visit == "V3")]
        got = missingness[(missingness.arm == arm) & (missingness.visit == "V3")].iloc[0]
        assert got.n_randomized == rows.participant.nunique() == 8
        assert got.n_missing == rows.score.isna().sum()
    dropout = table[table.table == "dropout"]
    assert dropout.groupby("arm", sort=False).n_last_observed.sum().to_dict() == dict.fromkeys(ARMS, 8)


def test_three_arm_demo_missing_data_tables_follow_the_contract():
    path = REPO_ROOT / "config" / "dose_ranging.yaml"
    if not path.exists():
        pytest.skip("the three-arm demo is not there yet")
    from pilottrial.config import load_config
    from pilottrial.data import load_trial

    config = load_config(path)
    trial = Trial.from_config(config)
    analysis = load_trial(config)
    table = mi_contrasts(analysis, config, n_imputations=5)
    assert list(table.columns)[-1] == "treatment"
    assert list(dict.fromkeys(table.treatment)) == [c.name for c in trial.comparisons]
    n_outcomes = len(trial.efficacy_outcomes)
    assert len(table) == len(trial.comparisons) * n_outcomes * len(trial.key_visits) * 4
    tip = tipping_point(analysis, config, n_imputations=5)
    assert list(dict.fromkeys(tip.treatment)) == [c.name for c in trial.comparisons]
    summary = missing_data(analysis, config)
    assert list(dict.fromkeys(summary.arm)) == list(trial.arms)


def test_an_outcome_that_cannot_be_imputed_has_rows_for_every_comparison_with_a_note():
    config = three_arm_config(comparisons="all_pairs")
    raw = copy.deepcopy(config)
    raw["outcomes"] = raw["outcomes"] + [{"name": "Z", "column": "z", "better": "lower"}]
    config = validate_config(raw)
    y = three_arm_trial(8, seed=14, dropout=0.0)
    z = y.assign(outcome="Z")
    z.loc[z.visit != "BL", ["change", "score"]] = np.nan
    analysis = pd.concat([y, z], ignore_index=True)
    table = mi_contrasts(analysis, config, methods=("mar",))
    assert list(table.columns) == MI_CONTRAST_COLUMNS + ["note", "treatment"]
    failed = table[table.outcome == "Z"]
    assert len(failed) == 3 * 2  # comparisons x key visits
    assert failed.estimate.isna().all() and failed.note.str.startswith("not estimable: Z has no").all()
    assert (table[table.outcome == "Y"].note == "").all() and table[table.outcome == "Y"].estimate.notna().all()
    tip = tipping_point(analysis, config)
    assert list(tip.columns) == TIPPING_COLUMNS + ["treatment"]
    assert list(dict.fromkeys(tip.treatment)) == ["LOW", "HIGH", "HIGH vs LOW"]
    assert tip[tip.outcome == "Z"].estimate.isna().all() and len(tip[tip.outcome == "Z"]) == 3 * 4
