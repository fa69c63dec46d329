"""Missing data: summaries, multiple imputation (MAR and reference-based), Rubin's rules and
the tipping point.

Checks against things known independently of the imputation code: pandas counts on the
raw file, the MMRM (the imputation model's own REML fit), the conditional-normal formula
written out per participant, statsmodels OLS on complete data, Rubin's rules and the
Barnard-Rubin df computed by hand, and the coverage of the true effect in simulated trials.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from conftest import REPO_ROOT
from scipy import stats

from pilottrial.analyses.missing import (
    DROPOUT_COLUMNS,
    MI_CONTRAST_COLUMNS,
    MISSING_DATA_COLUMNS,
    MISSINGNESS_COLUMNS,
    TIPPING_COLUMNS,
    ancova_arrays,
    dropout_table,
    fit_imputation_model,
    impute,
    impute_arrays,
    mi_contrasts,
    missing_data,
    missingness_table,
    rubin_rules,
    tipping_point,
)
from pilottrial.config import Trial
from pilottrial.config.load import validate_config
from pilottrial.models.primary import CONTRAST_COLUMNS, model_frame

DEMO = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def demo(demo_config, demo_analysis):
    return demo_config, demo_analysis


# ---- simulated trials ---------------------------------------------------------------------
VISITS = ["V1", "V2", "V3", "V4"]
SD = np.array([4.0, 4.5, 5.0, 5.5])
CORR = np.array([[1.0, 0.6, 0.5, 0.4], [0.6, 1.0, 0.6, 0.5], [0.5, 0.6, 1.0, 0.6], [0.4, 0.5, 0.6, 1.0]])
COV = CORR * np.outer(SD, SD)
REFERENCE_CHANGE = np.array([-2.0, -3.0, -3.5, -4.0])
SLOPE = -0.3


def sim_config(better="lower", imputations=20, **analysis) -> dict:
    raw = copy.deepcopy(DEMO)
    raw["arms"] = {"reference": "PBO", "treatment": "TRT"}
    raw["visits"] = {"baseline": "BL", "order": ["BL"] + VISITS, "key": ["V2", "V4"]}
    raw["outcomes"] = [{"name": "Y", "column": "y", "better": better, "primary": True}]
    raw["analysis"] = {"imputations": imputations, "seed": 7, **analysis}
    return validate_config(raw)


def sim_trial(n_per_arm: int, seed: int, effect=(-2.0, -4.0, -6.0, -8.0), dropout: float = 0.3,
              mechanism: str = "mar") -> pd.DataFrame:
    """Analysis table of a two-arm trial: change = reference change + arm effect + slope x
    centred baseline + correlated residual. Dropout is monotone: ``"mar"`` -- after each
    observed visit the participant leaves with a probability rising with that visit's change
    (calibrated to about ``dropout`` overall), ``"none"`` -- complete data."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    treated = np.repeat([0, 1], n_per_arm)
    baseline = np.round(rng.normal(40.0, 8.0, n))
    mean = REFERENCE_CHANGE[None] + treated[:, None] * np.asarray(effect)[None] + SLOPE * (baseline[:, None] - 40.0)
    change = mean + rng.multivariate_normal(np.zeros(4), COV, size=n)
    if mechanism == "mar":
        hazard = 1.0 - (1.0 - dropout) ** (1.0 / 3.0)  # per visit, before V2, V3, V4
        # E logistic(a + 0.8 z) ~ logistic(a / sqrt(1 + 0.64 pi / 8)) for z ~ N(0, 1)
        logit0 = np.log(hazard / (1.0 - hazard)) * np.sqrt(1.0 + 0.64 * np.pi / 8.0)
        gone = np.zeros(n, dtype=bool)
        for j in range(1, 4):
            previous = change[:, j - 1]
            z = np.nan_to_num((previous - np.nanmean(previous)) / np.nanstd(previous))
            gone |= rng.random(n) < 1.0 / (1.0 + np.exp(-(logit0 + 0.8 * z)))
            change[gone, j] = np.nan
    participants = [f"S{i:03d}" for i in range(n)]
    rows = pd.DataFrame({
        "participant": np.repeat(participants, 5),
        "arm": np.repeat(np.where(treated == 1, "TRT", "PBO"), 5),
        "visit": np.tile(["BL"] + VISITS, n),
        "outcome": "Y",
        "baseline": np.repeat(baseline, 5),
        "change": np.column_stack([np.zeros(n), change]).ravel(),
    })
    rows["score"] = rows["baseline"] + rows["change"]
    return rows[["participant", "arm", "visit", "outcome", "baseline", "score", "change"]]


def fit_model(analysis, outcome, config):
    """The imputation model of one outcome as the pipeline fits it (model frame, config covariance)."""
    a = config["analysis"]
    return fit_imputation_model(model_frame(analysis, outcome, config), a["covariance"], a["fallback"])


def imputations(analysis, outcome, config, method="mar", **options):
    """impute_arrays on one outcome with the config's arms, visits, M, seed and direction (as mi_contrasts)."""
    trial, a = Trial.from_config(config), config["analysis"]
    settings = {"n_imputations": a["imputations"], "seed": a["seed"], "covariance": a["covariance"],
                "fallback": a["fallback"], "better": trial.outcome(outcome).better, "outcome": outcome}
    return impute_arrays(analysis[analysis.outcome == outcome], trial.reference, trial.treatment,
                         trial.post_baseline, method=method, **(settings | options))


def contrast_at(fit, visit, reference, treatment) -> pd.Series:
    return fit.treatment_contrasts("arm", reference, treatment).set_index("visit").loc[visit]


# ---- summaries -----------------------------------------------------------------------------
def test_missingness_table_counts_match_the_raw_file(demo):
    config, analysis = demo
    table = missingness_table(analysis, config)
    assert list(table.columns) == MISSINGNESS_COLUMNS
    raw = pd.read_csv(config["data"]["path"])
    # one row per outcome x arm x visit at which the outcome has a score (imaging: baseline, 30d)
    scheduled = sum(raw.groupby("visit")[o["column"]].count().gt(0).sum() for o in config["outcomes"])
    assert len(table) == 2 * scheduled
    for (outcome, column) in (("CAPS-5", "caps5"), ("MADRS", "madrs")):
        for arm in ("midazolam", "ketamine"):
            for visit in ("baseline", "7d", "30d"):
                row = table[(table.outcome == outcome) & (table.arm == arm) & (table.visit == visit)].iloc[0]
                in_arm = raw[raw.arm == arm]
                scores = in_arm[in_arm.visit == visit][column]
                n_randomized = in_arm.participant.nunique()
                assert row.n_randomized == n_randomized
                assert row.n_observed == scores.notna().sum()
                assert row.n_missing == n_randomized - scores.notna().sum()
                assert row.pct_missing == pytest.approx(100 * row.n_missing / n_randomized)
    assert table[table.visit == "baseline"].n_missing.sum() == 0
    assert table.n_missing.sum() > 0


def test_dropout_table_separates_monotone_and_intermittent_missingness():
    config = sim_config()
    analysis = sim_trial(3, seed=1, mechanism="none")
    change = analysis.set_index(["participant", "visit"])["change"]
    # PBO: S000 complete, S001 last seen V1, S002 nothing after baseline
    # TRT: S003 intermittent (V2 missing, V4 seen), S004 last seen V3 with V1 missing, S005 complete
    for who, visits in {"S001": ["V2", "V3", "V4"], "S002": VISITS, "S003": ["V2"], "S004": ["V1", "V4"]}.items():
        for v in visits:
            change[(who, v)] = np.nan
    analysis["change"] = change.to_numpy()
    analysis["score"] = analysis["baseline"] + analysis["change"]
    table = dropout_table(analysis, config)
    assert list(table.columns) == DROPOUT_COLUMNS
    got = table.set_index(["arm", "visit"])[["n_last_observed", "n_monotone", "n_intermittent"]]
    assert got.loc[("PBO", "BL")].tolist() == [1, 1, 0]
    assert got.loc[("PBO", "V1")].tolist() == [1, 1, 0]
    assert got.loc[("PBO", "V4")].tolist() == [1, 1, 0]
    assert got.loc[("TRT", "V3")].tolist() == [1, 0, 1]
    assert got.loc[("TRT", "V4")].tolist() == [2, 1, 1]
    assert table.groupby("arm").n_last_observed.sum().tolist() == [3, 3]
    assert (table.n_randomized == 3).all()


def test_missing_data_stacks_both_tables_in_one_long_table(demo):
    config, analysis = demo
    table = missing_data(analysis, config)
    assert list(table.columns) == MISSING_DATA_COLUMNS
    assert set(table.table) == {"missingness", "dropout"}
    dropout = table[table.table == "dropout"]
    assert dropout.n_missing.isna().all() and dropout.n_last_observed.notna().all()
    # every participant has exactly one last observed visit
    per_arm = dropout.groupby(["outcome", "arm"]).n_last_observed.sum()
    assert (per_arm.to_numpy() == dropout.groupby(["outcome", "arm"]).n_randomized.first().to_numpy()).all()
    # only scheduled visits count: the demo's dropout is monotone, and an outcome measured at
    # baseline and 30d only (imaging) is not "intermittently missing" at 24h and 7d
    assert dropout.n_intermittent.sum() == 0
    scored = analysis[analysis.score.notna()].groupby("outcome").visit.unique()
    for outcome, rows in table.groupby("outcome"):
        assert set(rows.visit) <= set(scored[outcome])


# ---- MI under MAR ------------------------------------------------------------------------------
def _mar_agrees_with_mmrm(analysis, outcome, config, reference, treatment, M):
    fit = fit_model(analysis, outcome, config)
    completed = imputations(analysis, outcome, config, "mar", n_imputations=M, fit=fit)
    for j, visit in enumerate(completed.visits):
        q, u, df = ancova_arrays(completed.values[:, :, j], completed.baseline, completed.treated)
        pooled = rubin_rules(q, u, df).iloc[0]
        mmrm = contrast_at(fit, visit, reference, treatment)
        monte_carlo_se = np.sqrt(pooled.between_variance / M)
        assert abs(pooled.estimate - mmrm.estimate) < 3 * monte_carlo_se + 0.02 * mmrm.std_error, visit
        # the MI standard error is that of the MMRM give or take the parameter-draw spread
        assert pooled.std_error == pytest.approx(mmrm.std_error, rel=0.1)


def test_mi_under_mar_reproduces_the_mmrm_on_the_demo(demo):
    config, analysis = demo
    for outcome in ("CAPS-5", "PCL-5", "MADRS"):
        _mar_agrees_with_mmrm(analysis, outcome, config, "midazolam", "ketamine", M=400)


def test_mi_under_mar_reproduces_the_mmrm_with_30pct_dropout():
    config = sim_config()
    analysis = sim_trial(60, seed=11, dropout=0.3)
    last = analysis[analysis.visit == "V4"].change
    assert 0.2 < last.isna().mean() < 0.4
    _mar_agrees_with_mmrm(analysis, "Y", config, "PBO", "TRT", M=400)


def test_mi_mar_interval_covers_the_true_effect_at_its_nominal_rate():
    """100 simulated pilot trials (30 per arm, ~30% MAR dropout), M = 10: the 95% MI-MAR
    interval at the last visit must cover the true effect in 90-99% of trials. Each trial
    has its own seed: with one seed, every trial would reuse the same standard normals and
    the Monte Carlo error would not average out over trials."""
    config = sim_config(imputations=10)
    effect = (-2.0, -4.0, -6.0, -8.0)
    start, covered = time.perf_counter(), 0
    for trial in range(100):
        analysis = sim_trial(30, seed=1000 + trial, effect=effect, dropout=0.3)
        table = mi_contrasts(analysis, config, methods=("mar",), seed=trial)
        row = table[table.visit == "V4"].iloc[0]
        covered += row.ci_lower <= effect[-1] <= row.ci_upper
    print(f"MI-MAR coverage {covered}% in {time.perf_counter() - start:.1f} s")
    assert 90 <= covered <= 99


# ---- reference-based imputation -------------------------------------------------------------
def _own_and_reference_means(fit, row, visits, reference):
    frame = pd.DataFrame({"visit": visits, "baseline": row.baseline, "arm": row.arm})
    own = fit.design(frame) @ fit.beta
    ref = fit.design(frame.assign(arm=reference)) @ fit.beta
    return own, ref


def _expected_profile(method, own, ref, last, treated):
    """The mean profile of Carpenter, Roger & Kenward (2013), written out for one participant."""
    mu = own.copy()
    if not treated or method == "mar":
        return mu
    after = slice(last + 1, None)
    if method == "j2r":
        mu[after] = ref[after]
    elif method == "cir":
        anchor_own, anchor_ref = (own[last], ref[last]) if last >= 0 else (0.0, 0.0)
        mu[after] = anchor_own + ref[after] - anchor_ref
    elif method == "cr":
        mu = ref.copy()
    return mu


@pytest.mark.parametrize("method", ["mar", "j2r", "cir", "cr"])
def test_imputation_mean_is_the_method_mean_conditioned_on_observed_data(method):
    """With the parameters fixed at the REML estimates, each participant's imputation mean is
    mu[m] + S_mo S_oo^-1 (y_o - mu[o]) with the method's mean profile mu, written out here per
    participant; for J2R with nothing observed it is the reference-arm mean itself, and the
    draws scatter around the mean with the conditional covariance."""
    config = sim_config()
    analysis = sim_trial(40, seed=3, dropout=0.4)
    for who in ("S041", "S042"):  # treatment participants with nothing after baseline
        analysis.loc[(analysis.participant == who) & (analysis.visit != "BL"), ["change", "score"]] = np.nan
    analysis.loc[(analysis.participant == "S043") & (analysis.visit == "V2"), ["change", "score"]] = np.nan
    fit = fit_model(analysis, "Y", config)
    M = 4000 if method == "j2r" else 2
    completed = imputations(analysis, "Y", config, method, n_imputations=M, parameter_draws=False, fit=fit)
    sigma = fit.sigmas[0]
    wide = analysis[analysis.visit != "BL"].pivot(index="participant", columns="visit", values="change")[VISITS]
    people = analysis.drop_duplicates("participant").set_index("participant")
    checked = {"none observed": 0, "dropout": 0, "intermittent": 0}
    for i, who in enumerate(completed.participants):
        y = wide.loc[who].to_numpy()
        obs = ~np.isnan(y)
        if obs.all():
            np.testing.assert_array_equal(completed.values[:, i], np.broadcast_to(y, (M, 4)))
            continue
        treated = people.loc[who].arm == "TRT"
        own, ref = _own_and_reference_means(fit, people.loc[who], VISITS, "PBO")
        last = np.flatnonzero(obs).max() if obs.any() else -1
        mu = _expected_profile(method, own, ref, last, treated)
        mis = ~obs
        if obs.any():
            gain = sigma[np.ix_(mis, obs)] @ np.linalg.inv(sigma[np.ix_(obs, obs)])
            expected = mu[mis] + gain @ (y[obs] - mu[obs])
            cond_var = sigma[np.ix_(mis, mis)] - gain @ sigma[np.ix_(obs, mis)]
        else:
            expected, cond_var = mu[mis], sigma[np.ix_(mis, mis)]
        np.testing.assert_allclose(completed.conditional_mean[0, i, mis], expected, rtol=1e-9, atol=1e-9)
        if method == "j2r":
            draws = completed.values[:, i, mis]
            assert np.all(np.abs(draws.mean(axis=0) - expected) < 4 * np.sqrt(np.diag(cond_var) / M))
            np.testing.assert_allclose(np.cov(draws.T).reshape(cond_var.shape), cond_var, rtol=0.15, atol=0.5)
            if treated and not obs.any():
                np.testing.assert_allclose(completed.conditional_mean[0, i], ref, rtol=1e-10)
        if treated:
            kind = "none observed" if not obs.any() else "intermittent" if (mis[:last]).any() else "dropout"
            checked[kind] += 1
    assert checked["none observed"] >= 2 and checked["dropout"] >= 3 and checked["intermittent"] >= 1


def test_reference_based_estimates_are_shrunk_toward_the_null():
    """Treatment effect growing over visits: J2R removes it after dropout, CIR keeps the
    difference reached at dropout, MAR keeps the arm's own trajectory."""
    config = sim_config(imputations=200)
    analysis = sim_trial(60, seed=21, effect=(-2.0, -4.0, -6.0, -8.0), dropout=0.4)
    table = mi_contrasts(analysis, config).query("visit == 'V4'").set_index("analysis")
    mar, j2r, cir, cr = (table.loc[f"mi_{m}", "estimate"] for m in ("mar", "j2r", "cir", "cr"))
    assert mar < cir < j2r < 0  # lower is better: all negative, J2R closest to 0
    assert abs(j2r) < abs(mar) - 0.5
    # reference-based imputation adds between-imputation variance for the treatment arm
    assert table.loc["mi_j2r", "std_error"] > 0 and np.isfinite(cr)
    # the reference arm is imputed under MAR by every method: its completed means agree
    mean_ref = {m: imputations(analysis, "Y", config, m, n_imputations=200).values[:, :60, 3].mean()
                for m in ("mar", "j2r", "cir", "cr")}
    spread = max(mean_ref.values()) - min(mean_ref.values())
    assert spread < 0.3


def test_cr_cir_and_j2r_agree_when_nothing_was_observed_after_baseline():
    config = sim_config()
    analysis = sim_trial(40, seed=5, dropout=0.4)
    # two treatment participants with nothing after baseline
    for who in ("S041", "S042"):
        analysis.loc[(analysis.participant == who) & (analysis.visit != "BL"), ["change", "score"]] = np.nan
    wide = analysis[analysis.visit != "BL"].pivot(index="participant", columns="visit", values="change")
    treated = (analysis.drop_duplicates("participant").set_index("participant").arm.reindex(wide.index)
               == "TRT").to_numpy()
    none_observed = treated & wide.isna().all(axis=1).to_numpy()
    some = treated & wide.isna().any(axis=1).to_numpy() & wide.notna().any(axis=1).to_numpy()
    assert none_observed.sum() >= 2 and some.any()
    fit = fit_model(analysis, "Y", config)
    means = {m: imputations(analysis, "Y", config, m, n_imputations=2, parameter_draws=False,
                              fit=fit).conditional_mean[0] for m in ("j2r", "cr", "cir", "mar")}
    np.testing.assert_allclose(means["cr"][none_observed], means["j2r"][none_observed], rtol=1e-12)
    np.testing.assert_allclose(means["cir"][none_observed], means["j2r"][none_observed], rtol=1e-12)
    assert np.abs(means["mar"][none_observed] - means["j2r"][none_observed]).min() > 1.0
    # with data before dropout, CR (reference mean throughout) and J2R differ
    assert np.abs(means["cr"][some] - means["j2r"][some]).max() > 0.1


def test_with_no_missing_data_every_method_is_the_complete_data_ancova():
    config = sim_config(imputations=5)
    analysis = sim_trial(20, seed=8, mechanism="none")
    table = mi_contrasts(analysis, config)
    assert list(table.columns) == MI_CONTRAST_COLUMNS
    assert list(table.columns[:len(CONTRAST_COLUMNS)]) == CONTRAST_COLUMNS
    assert len(table) == 2 * 4
    for visit in ("V2", "V4"):
        frame = analysis[analysis.visit == visit].copy()
        frame["arm"] = pd.Categorical(frame.arm, ["PBO", "TRT"])
        ols = smf.ols("change ~ baseline + arm", frame).fit()
        ci = ols.conf_int().loc["arm[T.TRT]"]
        rows = table[table.visit == visit]
        np.testing.assert_allclose(rows.estimate, ols.params["arm[T.TRT]"], rtol=1e-10)
        np.testing.assert_allclose(rows.std_error, ols.bse["arm[T.TRT]"], rtol=1e-10)
        np.testing.assert_allclose(rows.df, ols.df_resid)
        np.testing.assert_allclose(rows.ci_lower, ci[0], rtol=1e-9)
        np.testing.assert_allclose(rows.p_value, ols.pvalues["arm[T.TRT]"], rtol=1e-8)
        assert (rows.fraction_missing_info == 0).all()
    completed = imputations(analysis, "Y", config, "j2r")
    assert completed.observed.all() and (completed.values == completed.values[:1]).all()


# ---- Rubin's rules -----------------------------------------------------------------------------
def test_rubin_rules_match_a_hand_computed_example():
    pooled = rubin_rules([1.0, 1.5, 2.0], [0.5, 0.6, 0.7], df_complete=20).iloc[0]
    # Qbar = 1.5, Ubar = 0.6, B = 0.25, T = 0.6 + (4/3) 0.25 = 14/15, lambda = (1/3)/(14/15) = 5/14
    # nu_old = 2 / lambda^2 = 392/25; nu_obs = (21/23) 20 (9/14) = 270/23; nu = 105840/15766
    assert pooled.estimate == pytest.approx(1.5)
    assert pooled.within_variance == pytest.approx(0.6)
    assert pooled.between_variance == pytest.approx(0.25)
    assert pooled.total_variance == pytest.approx(14 / 15)
    assert pooled.fraction_missing_info == pytest.approx(5 / 14)
    assert pooled.df == pytest.approx(105840 / 15766, rel=1e-12)
    half = stats.t.ppf(0.975, 105840 / 15766) * np.sqrt(14 / 15)
    assert pooled.ci_lower == pytest.approx(1.5 - half) and pooled.ci_upper == pytest.approx(1.5 + half)
    assert pooled.p_value == pytest.approx(2 * stats.t.sf(1.5 / np.sqrt(14 / 15), 105840 / 15766))
    assert pooled.imputations == 3
    # identical completed-data results: the complete-data analysis, df = nu_com
    same = rubin_rules([2.0] * 4, [0.3] * 4, df_complete=17).iloc[0]
    assert same.between_variance == 0 and same.df == 17 and same.std_error == pytest.approx(np.sqrt(0.3))
    # several quantities at once, one row each
    two = rubin_rules(np.array([[1.0, 1.5, 2.0], [2.0, 2.0, 2.0]]), np.full((2, 3), 0.5), df_complete=20)
    assert len(two) == 2 and two.between_variance.tolist() == [0.25, 0.0]


# ---- tipping point -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tipping_trial():
    config = sim_config(imputations=30, tipping_delta_step=1, tipping_delta_max=20)
    analysis = sim_trial(30, seed=4, effect=(-3.0, -5.0, -6.0, -7.0), dropout=0.45)
    return config, analysis


def test_tipping_point_delta_zero_is_mi_mar_and_the_estimate_moves_monotonically(tipping_trial):
    config, analysis = tipping_trial
    table = tipping_point(analysis, config)
    assert list(table.columns) == TIPPING_COLUMNS
    assert table.delta.tolist() == [float(d) for d in range(21)]
    assert set(table.visit) == {"V4"}
    mar = mi_contrasts(analysis, config, methods=("mar",)).query("visit == 'V4'").iloc[0]
    zero = table.iloc[0]
    for col in ("estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"):
        assert zero[col] == mar[col], col
    # lower is better: +delta on the treatment arm's imputed values, the estimate rises linearly
    steps = np.diff(table.estimate)
    assert (steps > 0).all() and np.allclose(steps, steps[0])


def test_tipping_delta_is_where_significance_flips(tipping_trial):
    config, analysis = tipping_trial
    table = tipping_point(analysis, config)
    assert table.significant.iloc[0] and table.favours_treatment.iloc[0]
    tipping = table.tipping_delta.iloc[0]
    assert np.isfinite(tipping) and (table.tipping_delta == tipping).all()
    before, at = table[table.delta < tipping], table[table.delta == tipping].iloc[0]
    assert before.significant.all() and (before.conclusion == "significant benefit").all()
    assert not at.significant and at.conclusion == "not significant"
    assert at.ci_upper > 0 > table[table.delta == tipping - 1].iloc[0].ci_upper
    assert "at delta = " in at.note


def test_tipping_point_shifts_the_other_way_when_higher_is_better(tipping_trial):
    config, analysis = tipping_trial
    flipped = analysis.copy()
    flipped[["baseline", "score", "change"]] *= -1
    higher = copy.deepcopy(config)
    higher["outcomes"][0]["better"] = "higher"
    table = tipping_point(flipped, higher)
    lower = tipping_point(analysis, config)
    # same design and imputed cells: the same shift per unit delta, in the other direction
    np.testing.assert_allclose(np.diff(table.estimate), -np.diff(lower.estimate), rtol=1e-9)
    assert (np.diff(table.estimate) < 0).all()
    assert table.favours_treatment.iloc[0] == (table.estimate.iloc[0] > 0)


def test_tipping_delta_is_missing_with_a_note_when_the_conclusion_never_changes(demo):
    config, analysis = demo
    config = copy.deepcopy(config)
    config["analysis"]["imputations"] = 20
    table = tipping_point(analysis, config)
    efficacy = [o["name"] for o in config["outcomes"] if o["role"] == "efficacy"]
    assert list(dict.fromkeys(table.outcome)) == efficacy
    assert set(table.visit) == {"30d"}
    for _, rows in table.groupby("outcome"):
        if rows.conclusion.nunique() == 1:
            assert rows.tipping_delta.isna().all() and rows.note.iloc[0].endswith("unchanged up to delta = 20")


def test_delta_shifts_only_imputed_treatment_values(tipping_trial):
    config, analysis = tipping_trial
    plain = imputations(analysis, "Y", config, "mar", n_imputations=3)
    shifted = imputations(analysis, "Y", config, "mar", n_imputations=3, delta=2.5)
    expected = 2.5 * (plain.treated[:, None] & ~plain.observed)
    np.testing.assert_allclose(shifted.values - plain.values, np.broadcast_to(expected, plain.values.shape))


# ---- the tidy form and determinism ---------------------------------------------------------------
def test_impute_returns_long_completed_data_keeping_observed_values(demo):
    config, analysis = demo
    rows = analysis[analysis.outcome == "CAPS-5"]
    table = impute(rows, "midazolam", "ketamine", ["24h", "7d", "30d"], method="cir", n_imputations=3, seed=1)
    assert table.equals(imputations(analysis, "CAPS-5", config, "cir", n_imputations=3, seed=1).to_frame())
    assert list(table.columns) == ["imputation", "participant", "arm", "visit", "baseline", "change", "imputed"]
    assert table.imputation.unique().tolist() == [1, 2, 3]
    assert table.change.notna().all()
    original = analysis[(analysis.outcome == "CAPS-5") & (analysis.visit != "baseline")]
    merged = table.merge(original, on=["participant", "visit"], suffixes=("", "_data"))
    assert len(merged) == len(table) == 3 * len(original)
    assert (merged.imputed == merged.change_data.isna()).all()
    kept = merged[~merged.imputed]
    np.testing.assert_array_equal(kept.change, kept.change_data)
    assert (merged.arm == merged.arm_data).all()


def test_same_seed_same_draws_other_seed_other_draws_and_order_does_not_matter(demo):
    config, analysis = demo
    first = mi_contrasts(analysis, config, n_imputations=20)
    again = mi_contrasts(analysis, config, n_imputations=20)
    pd.testing.assert_frame_equal(first, again)
    other = mi_contrasts(analysis, config, n_imputations=20, seed=config["analysis"]["seed"] + 1)
    imputed = first.fraction_missing_info > 0
    assert (first.estimate[imputed] != other.estimate[imputed]).all()
    assert (first.estimate[~imputed] == other.estimate[~imputed]).all()  # nothing imputed at 24h
    # a method or an outcome alone gives the same draws as in the full run
    alone = mi_contrasts(analysis, config, methods=("cir",), n_imputations=20)
    pd.testing.assert_frame_equal(alone, first[first.analysis == "mi_cir"].reset_index(drop=True))
    only_madrs = copy.deepcopy(config)
    for o in only_madrs["outcomes"]:
        o["role"] = "efficacy" if o["name"] == "MADRS" else "mechanism"
    madrs = mi_contrasts(analysis, only_madrs, n_imputations=20)
    pd.testing.assert_frame_equal(madrs, first[first.outcome == "MADRS"].reset_index(drop=True))
    # more imputations keep the first ones
    five = imputations(analysis, "PCL-5", config, "j2r", n_imputations=5)
    twenty = imputations(analysis, "PCL-5", config, "j2r", n_imputations=20)
    np.testing.assert_array_equal(five.values, twenty.values[:5])


def test_demo_mi_and_tipping_point_run_quickly_with_100_imputations(demo):
    config, analysis = demo
    assert config["analysis"]["imputations"] == 100
    start = time.perf_counter()
    table = mi_contrasts(analysis, config)
    tipping = tipping_point(analysis, config)
    elapsed = time.perf_counter() - start
    print(f"mi_contrasts + tipping_point on the demo (M = 100): {elapsed:.2f} s")
    n_efficacy = sum(o["role"] == "efficacy" for o in config["outcomes"])
    assert len(table) == n_efficacy * 2 * 4 and (table.imputations == 100).all()
    assert len(tipping) == n_efficacy * 21
    assert elapsed < 30  # generous: a few seconds expected; catches a per-participant loop
