"""The primary analysis pieces: descriptives, the LMM through statsmodels, the contrast table."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from pilottrial.models.frame import FORMULA, model_frame
from pilottrial.models.lmm import fit_outcome_lmm
from pilottrial.models.primary import CONTRAST_COLUMNS, descriptives


@pytest.fixture(scope="module")
def trial(demo_config, demo_analysis):
    return demo_config, demo_analysis


def test_descriptives_match_pandas_on_the_raw_file(trial):
    config, analysis = trial
    table = descriptives(analysis, config)
    raw = pd.read_csv(config["data"]["path"])
    assert len(table) == len(config["outcomes"]) * 2 * 4
    row = table[(table.outcome == "MADRS") & (table.arm == "midazolam") & (table.visit == "7d")].iloc[0]
    scores = raw[(raw.arm == "midazolam") & (raw.visit == "7d")].madrs
    assert row.n == scores.notna().sum() and row.n_missing == scores.isna().sum()
    assert row["mean"] == pytest.approx(scores.mean()) and row.sd == pytest.approx(scores.std())
    assert row.q1 == pytest.approx(scores.quantile(0.25))
    assert np.isnan(table[table.visit == "baseline"].change_mean).all()


def test_lmm_fixed_effects_equal_statsmodels(trial):
    """Our REML fit and statsmodels' agree on the fixed effects (statsmodels' L-BFGS stops about
    1e-5 short of the REML optimum, which the lme4/lmerTest parity tests pin down to 1e-9)."""
    config, analysis = trial
    fit = fit_outcome_lmm(analysis, "CAPS-5", config)
    frame = model_frame(analysis, "CAPS-5", config)
    sm = smf.mixedlm(FORMULA, frame, groups=frame["participant"]).fit(reml=True, method=["lbfgs"])
    ours = pd.Series(fit.beta, index=fit.terms)
    assert sorted(ours.index) == sorted(sm.fe_params.index)
    np.testing.assert_allclose(ours[sm.fe_params.index], sm.fe_params, rtol=1e-4)
    # statsmodels' bse inverts the full Hessian; (X'V^-1X)^-1 differs from it by ~0.1%
    ours_se = pd.Series(np.sqrt(np.diag(fit.vcov)), index=fit.terms)
    np.testing.assert_allclose(ours_se[sm.bse_fe.index], sm.bse_fe, rtol=5e-3)


def test_model_frame_sets_reference_levels_first(trial):
    config, analysis = trial
    frame = model_frame(analysis, "PCL-5", config)
    assert list(frame.arm.cat.categories) == ["midazolam", "ketamine"]
    assert list(frame.visit.cat.categories) == ["24h", "7d", "30d"]
    assert frame.change.notna().all()


def test_contrast_columns_are_the_contract():
    assert CONTRAST_COLUMNS == ["outcome", "model", "visit", "estimate", "std_error", "df", "ci_lower",
                                "ci_upper", "p_value"]


def test_outcome_measured_at_one_post_baseline_visit_is_an_ancova(trial):
    """Imaging-like outcome (baseline and 30d only): the MMRM reduces to the ANCOVA
    change ~ baseline + arm, its Satterthwaite df to the residual df; no LMM is fitted."""
    import copy

    from pilottrial.models.primary import primary_contrasts

    config, analysis = trial
    only_30d = analysis[analysis.outcome == "CAPS-5"].copy()
    only_30d["outcome"] = "ROI"
    only_30d.loc[only_30d.visit.isin(["24h", "7d"]), ["score", "change"]] = np.nan
    config = copy.deepcopy(config)
    config["outcomes"].append({"name": "ROI", "column": "roi", "range": None, "better": "lower",
                               "primary": False, "role": "mechanism"})
    contrasts, models = primary_contrasts(pd.concat([analysis, only_30d]), config)
    roi = contrasts[contrasts.outcome == "ROI"]
    assert list(roi.model) == ["mmrm"] and list(roi.visit) == ["30d"]
    frame = only_30d[only_30d.visit == "30d"].dropna(subset=["change"]).copy()
    frame["arm"] = pd.Categorical(frame.arm, ["midazolam", "ketamine"])
    ols = smf.ols("change ~ baseline + arm", frame).fit()
    assert roi.estimate.iloc[0] == pytest.approx(ols.params["arm[T.ketamine]"], rel=1e-8)
    assert roi.std_error.iloc[0] == pytest.approx(ols.bse["arm[T.ketamine]"], rel=1e-6)
    assert roi.df.iloc[0] == pytest.approx(ols.df_resid, rel=1e-5)
