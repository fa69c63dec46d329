"""Secondary analyses of a trial with three arms (issue 12): Holm within each comparison,
effect sizes, responders and the posterior of each comparison.

The three-arm demo (config/dose_ranging.yaml: midazolam, ketamine-0.2, ketamine-0.5), with
its contrast table built here in the contract's form (``contrasts.csv``: each comparison's
rows with a ``treatment`` column, then the arm-adjusted columns) from MMRMs of all arms fitted
in the test. Independent checks: statsmodels' Holm, pingouin's Hedges' g, numpy pooled SDs,
scipy's Fisher test and t distribution, and the two-arm analysis of each pair (a two-arm
config of the pair's two arms, on the pair's rows only) for the pairwise analyses.
"""

import copy

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from conftest import REPO_ROOT
from scipy import stats
from statsmodels.stats.multitest import multipletests

from pilottrial.analyses.bayes import POSTERIOR_COLUMNS, posterior_table
from pilottrial.analyses.effects import EFFECT_COLUMNS, effect_sizes
from pilottrial.analyses.multiplicity import (
    ADJUSTED_COLUMNS,
    adjust_contrasts,
    comparison_contrasts,
    stack_comparisons,
)
from pilottrial.analyses.responders import RESPONDER_COLUMNS, responder_table
from pilottrial.config import Comparison, Trial, load_config
from pilottrial.data import load_trial
from pilottrial.models.frame import model_formula, model_frame
from pilottrial.models.mmrm import fit_mmrm
from pilottrial.models.primary import CONTRAST_COLUMNS


def _config(comparisons="vs_reference"):
    config = load_config(REPO_ROOT / "config" / "dose_ranging.yaml")
    config = copy.deepcopy(config)
    config.setdefault("analysis", {})["comparisons"] = comparisons
    return config


def _contrasts(analysis, trial):
    """contrasts.csv of the trial as the contract writes it: MMRM of all arms per outcome, each
    comparison's rows (unadjusted), ``treatment``, then arm-adjusted columns (here 0.999, a
    value no secondary analysis may use), and LMM rows that must be ignored."""
    tables = []
    for comparison in trial.comparisons:
        for outcome in trial.outcomes:
            frame = model_frame(analysis, outcome.name, trial.config)
            fit = fit_mmrm(frame, model_formula(frame, trial.config), subject="participant", visit="visit",
                           covariance="us", method="reml", df_method="satterthwaite")
            rows = fit.treatment_contrasts("arm", comparison.reference, comparison.treatment, visit="visit")
            if "visit" not in fit.factor_levels:
                rows["visit"] = list(frame["visit"].cat.categories)
            for model, shift in (("mmrm", 0.0), ("lmm", 100.0)):
                tables.append(rows.assign(outcome=outcome.name, model=model, estimate=rows["estimate"] + shift,
                                          visit=rows["visit"].astype(str))
                              [CONTRAST_COLUMNS].assign(treatment=comparison.name, ci_lower_adjusted=0.999,
                                                        ci_upper_adjusted=0.999, p_value_adjusted=0.999))
    return pd.concat(tables, ignore_index=True)


@pytest.fixture(scope="module", params=["vs_reference", "all_pairs"])
def three_arm(request):
    config = _config(request.param)
    trial = Trial.from_config(config)
    analysis = load_trial(config)
    return trial, analysis, _contrasts(analysis, trial)


def _two_arm(trial, comparison):
    """The two-arm trial of one pair: a config with arms {reference, treatment} and no k-arm keys."""
    config = copy.deepcopy(trial.config)
    config["arms"] = {"reference": comparison.reference, "treatment": comparison.treatment}
    for key in ("comparisons", "arm_adjustment"):
        config["analysis"].pop(key, None)
    return Trial.from_config(config)


def _pair(analysis, comparison):
    return analysis[analysis["arm"].astype(str).isin(comparison.arms)].reset_index(drop=True)


def _block(table, comparison):
    return table[table["treatment"] == comparison.name].drop(columns="treatment").reset_index(drop=True)


def test_comparisons_of_the_demo(three_arm):
    trial, analysis, _ = three_arm
    assert trial.is_multi_arm and sorted(analysis["arm"].astype(str).unique()) == sorted(trial.arms)
    names = [c.name for c in trial.comparisons]
    assert names[:2] == ["ketamine-0.2", "ketamine-0.5"]
    if trial.comparison_mode == "all_pairs":
        assert names[2] == "ketamine-0.5 vs ketamine-0.2"


def test_holm_within_each_comparison_matches_statsmodels(three_arm):
    trial, _, contrasts = three_arm
    table = adjust_contrasts(contrasts, trial)
    assert list(table.columns) == ADJUSTED_COLUMNS + ["treatment"]
    key = list(trial.key_visits)
    outcomes = trial.outcome_names
    expected_order = [(c.name, o, v) for c in trial.comparisons for o in outcomes for v in key
                      if o in ("CAPS-5", "PCL-5", "MADRS") or v == "30d"]
    assert list(zip(table["treatment"], table["outcome"], table["visit"])) == expected_order
    mmrm = contrasts[contrasts["model"] == "mmrm"]
    for comparison in trial.comparisons:
        for visit in key:
            rows = table[(table["treatment"] == comparison.name) & (table["visit"] == visit)].set_index("outcome")
            source = mmrm[(mmrm["treatment"] == comparison.name) & (mmrm["visit"] == visit)].set_index("outcome")
            # unadjusted numbers are the comparison's own (never the arm-adjusted 0.999)
            assert rows.loc["CAPS-5", "p_value"] == pytest.approx(source.loc["CAPS-5", "p_value"], rel=1e-12)
            assert rows.loc["CAPS-5", "p_adjusted"] == rows.loc["CAPS-5", "p_value"]  # primary: not adjusted
            secondary = ["PCL-5", "MADRS"]
            holm = multipletests(source.loc[secondary, "p_value"].to_numpy(), method="holm")[1]
            assert rows.loc[secondary, "p_adjusted"].to_numpy() == pytest.approx(holm, rel=1e-12)
            assert set(rows.loc[secondary, "adjustment"]) == {f"Holm across secondary outcomes at {visit}"}
        # the two-arm procedure on the pair's contrasts gives the same block
        pair_table = adjust_contrasts(comparison_contrasts(contrasts, comparison), _two_arm(trial, comparison))
        pd.testing.assert_frame_equal(_block(table, comparison), pair_table)


def test_effect_sizes_of_each_pair(three_arm):
    trial, analysis, contrasts = three_arm
    table = effect_sizes(analysis, contrasts, trial)
    assert list(table.columns) == EFFECT_COLUMNS + ["treatment"]
    assert list(pd.unique(table["treatment"])) == [c.name for c in trial.comparisons]
    for comparison in trial.comparisons:
        block = _block(table, comparison)
        two_arm = _two_arm(trial, comparison)
        pd.testing.assert_frame_equal(block, effect_sizes(_pair(analysis, comparison),
                                                          comparison_contrasts(contrasts, comparison), two_arm))
        # MMRM difference over the pooled baseline SD of the pair's participants in the model
        frame = model_frame(analysis, "CAPS-5", trial.config).drop_duplicates("participant")
        base = [frame.loc[frame["arm"] == arm, "baseline"].to_numpy(float) for arm in comparison.arms]
        n1, n2 = len(base[0]), len(base[1])
        sd = np.sqrt(((n1 - 1) * base[0].var(ddof=1) + (n2 - 1) * base[1].var(ddof=1)) / (n1 + n2 - 2))
        j = 1 - 3 / (4 * (n1 + n2 - 2) - 1)
        contrast = contrasts[(contrasts["model"] == "mmrm") & (contrasts["treatment"] == comparison.name)
                             & (contrasts["outcome"] == "CAPS-5") & (contrasts["visit"] == "30d")].iloc[0]
        row = block[(block["outcome"] == "CAPS-5") & (block["visit"] == "30d")
                    & (block["method"] == "mmrm_over_baseline_sd")].iloc[0]
        assert (row["n_reference"], row["n_treatment"]) == (n1, n2)
        assert row["sd"] == pytest.approx(sd, rel=1e-12)
        assert row["estimate"] == pytest.approx(contrast["estimate"] / sd * j, rel=1e-12)
        # observed change: pingouin's Hedges' g of the pair at the visit
        at = analysis[(analysis["outcome"] == "MADRS") & (analysis["visit"] == "24h") & analysis["change"].notna()]
        x, y = (at.loc[at["arm"] == arm, "change"].to_numpy(float) for arm in (comparison.treatment,
                                                                                comparison.reference))
        row = block[(block["outcome"] == "MADRS") & (block["visit"] == "24h")
                    & (block["method"] == "observed_change")].iloc[0]
        assert row["estimate"] == pytest.approx(pg.compute_effsize(x, y, eftype="hedges"), rel=1e-10)


def test_responders_of_each_pair(three_arm):
    trial, analysis, _ = three_arm
    table = responder_table(analysis, trial)
    assert list(table.columns) == RESPONDER_COLUMNS + ["treatment"]
    assert len(table) == len(trial.comparisons) * 3 * 2 * 2  # outcomes x key visits x (response, remission)
    for comparison in trial.comparisons:
        block = _block(table, comparison)
        pd.testing.assert_frame_equal(block, responder_table(_pair(analysis, comparison), _two_arm(trial, comparison)))
        # remission of CAPS-5 at 30d counted by hand, Fisher's p from scipy
        at = analysis[(analysis["outcome"] == "CAPS-5") & (analysis["visit"] == "30d") & analysis["score"].notna()]
        counts = [((at["arm"] == arm) & (at["score"] < 20)).sum() for arm in (comparison.treatment,
                                                                               comparison.reference)]
        totals = [(at["arm"] == arm).sum() for arm in (comparison.treatment, comparison.reference)]
        row = block[(block["outcome"] == "CAPS-5") & (block["visit"] == "30d")
                    & (block["definition"] == "remission")].iloc[0]
        assert (row["n_treatment"], row["N_treatment"], row["n_reference"], row["N_reference"]) == (
            counts[0], totals[0], counts[1], totals[1])
        fisher = stats.fisher_exact([[counts[0], totals[0] - counts[0]], [counts[1], totals[1] - counts[1]]])
        assert row["fisher_p"] == pytest.approx(fisher.pvalue, rel=1e-12)


def test_posterior_of_each_comparison(three_arm):
    trial, _, contrasts = three_arm
    table = posterior_table(contrasts, trial)
    assert list(table.columns) == POSTERIOR_COLUMNS + ["treatment"]
    assert list(zip(table["treatment"], table["outcome"], table["visit"], table["prior"]))[:4] == [
        (trial.comparisons[0].name, "CAPS-5", v, p) for v in trial.key_visits for p in ("flat", "sceptical")]
    for comparison in trial.comparisons:
        block = _block(table, comparison)
        pd.testing.assert_frame_equal(block, posterior_table(comparison_contrasts(contrasts, comparison),
                                                             _two_arm(trial, comparison)))
        contrast = contrasts[(contrasts["model"] == "mmrm") & (contrasts["treatment"] == comparison.name)
                             & (contrasts["outcome"] == "PCL-5") & (contrasts["visit"] == "24h")].iloc[0]
        flat = block[(block["outcome"] == "PCL-5") & (block["visit"] == "24h") & (block["prior"] == "flat")].iloc[0]
        assert flat["prob_benefit"] == pytest.approx(
            stats.t.cdf(-contrast["estimate"] / contrast["std_error"], contrast["df"]), rel=1e-12)
        sceptical = block[(block["outcome"] == "PCL-5") & (block["visit"] == "24h")
                          & (block["prior"] == "sceptical")].iloc[0]
        s, se = 10 / stats.norm.ppf(0.95), contrast["std_error"]  # PCL-5 mcid 10
        mean = contrast["estimate"] / se**2 / (1 / s**2 + 1 / se**2)
        assert sceptical["posterior_mean"] == pytest.approx(mean, rel=1e-12)


def test_contrasts_without_treatment_column_are_refused(three_arm):
    trial, _, contrasts = three_arm
    with pytest.raises(ValueError, match="no 'treatment' column"):
        adjust_contrasts(contrasts.drop(columns="treatment"), trial)


def test_stacked_tables_end_with_treatment_and_fill_notes():
    first = pd.DataFrame({"x": [1.0], "treatment": ["low"]})
    second = pd.DataFrame({"x": [np.nan], "note": ["not estimable: no data"], "treatment": ["high"]})
    table = stack_comparisons([first, second])
    assert list(table.columns) == ["x", "note", "treatment"]
    assert table["note"].tolist() == ["", "not estimable: no data"]


def test_a_comparison_whose_outcome_is_not_estimable_keeps_its_rows(three_arm):
    """One comparison's PCL-5 contrasts lost (a model that did not fit): its rows say why, the other
    comparisons keep theirs, and ``note`` comes before ``treatment``."""
    trial, analysis, contrasts = three_arm
    lost = Comparison(trial.comparisons[1].treatment, trial.comparisons[1].reference, trial.comparisons[1].name)
    damaged = contrasts[~((contrasts["treatment"] == lost.name) & (contrasts["outcome"] == "PCL-5"))]
    table = adjust_contrasts(damaged, trial)
    assert list(table.columns)[-2:] == ["note", "treatment"]
    rows = table[(table["treatment"] == lost.name) & (table["outcome"] == "PCL-5")]
    assert len(rows) == 2 and rows["note"].str.startswith("not estimable").all() and rows["p_value"].isna().all()
    assert (table.loc[table["treatment"] != lost.name, "note"] == "").all()
    effects = effect_sizes(analysis, damaged, trial)
    assert list(effects.columns)[-2:] == ["note", "treatment"]
