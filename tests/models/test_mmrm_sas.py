"""The MMRM engine against SAS PROC MIXED on the FEV benchmark (reference/fev/).

Expected values are read at test time from the SAS listings with ``tests/sas_listing.py``;
``test_sas_listing_parser_reads_published_numbers`` checks the parser against a few numbers
typed in from the listings. Tests skip when the reference folder is absent (fail under CI=true),
see ``conftest.py``.

What SAS prints limits how closely we can compare:

* SAS stops iterating slightly short of the optimum (relative convergence criterion 1e-8 on
  the -2LL scale); its final -2 Res LL is a hair above ours, and the covariance parameters of
  flat directions of the likelihood differ by up to a few 1e-3 standard errors;
* estimates are printed to 4 decimals (or 5 significant digits), t to 2 decimals, p to 4
  decimals or ``<.0001``, degrees of freedom rounded to integers, AIC/AICC/BIC to 1 decimal.

SAS listing conventions mapped here:

* The unstructured listings (``sas_log_reml.txt``, ``sas_log.txt`` and the FEV1 ~ 1
  ``sas_log_simple*.txt``) order AVISIT as VIS2 VIS3 VIS4 VIS1 (SAS's class order; VIS1 is
  the reference, last), so UN(i,j) there refers to that order. The order is read from each
  listing's Class Level Information and UN entries are compared visit pair by visit pair. Our
  fits keep VIS1..VIS4 with the same reference levels as SAS (PBO, VIS1, Asian, Male). The
  other structures' listings use VIS1..VIS4, which the tests assert.
* With GROUP=, SAS labels the residual variance of CS and AR(1) ``Variance``; the engine
  labels it ``Residual`` (see ``SAS_GROUPED_LABELS``).
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
import pandas as pd
import pytest
import sas_listing

from pilottrial.models.mmrm import MMRMError, fit_mmrm

# ---- tolerances --------------------------------------------------------------------------
# The worst differences observed are noted with each.
# -2 (Res) log-likelihood vs the last line of SAS's iteration history (8 decimals). SAS stops
# early and ours is the (slightly lower) optimum: observed at most 3.5e-9 relative (1.1e-5).
NEG2LL_REL = 1e-7
# ... and ours must never be worse than SAS's final iterate (beyond float noise).
NEG2LL_NOT_WORSE_ABS = 1e-6
# Covariance parameters: SAS's early stop moves parameters in flat directions of the
# likelihood by more than 1e-3 relative when they are near zero (UN(3,2) = 0.90 with SE 2.0:
# 2.1e-3 relative; Rho(2) = 0.026 with SE 0.17: 1.2e-3), so a parameter matches if within
# 1e-3 relative OR within 0.01 of its standard error (observed at most 0.0026 SE).
COV_REL = 1e-3
COV_SE_FRACTION = 0.01
# Fixed effects, LS-means, differences (estimate, SE, CI limits): 1e-3 relative, or 1e-3 of the
# standard error in absolute terms (for estimates near zero), plus half a unit of SAS's 4th
# printed decimal. Observed: SE 1.7e-4 relative, estimates 2.6e-4 SE (8e-5 relative for
# estimates away from zero), CI limits 5.6e-4 relative (a limit near zero).
EST_REL = 1e-3
EST_SE_FRACTION = 1e-3
PRINT_HALF_UNIT = 5e-5
# Degrees of freedom are printed rounded to integers: |ours - SAS| <= 0.5, plus DF_REL for the
# df's own sensitivity to SAS's early-stopped covariance parameters (observed: 143.485 printed
# as 144, i.e. 1.0e-4 relative beyond the rounding).
DF_PRINT_ABS = 0.5
DF_REL = 1e-3
# t values are printed with 2 decimals; an estimate off by EST_SE_FRACTION standard errors
# moves t by that much, an SE off by EST_REL moves it by EST_REL relative.
T_PRINT_ABS = 0.005 + EST_SE_FRACTION
T_REL = EST_REL
# p-values printed with 4 decimals (or "<.0001"); observed 2.3e-4 relative beyond rounding.
P_PRINT_ABS = 5e-5 + 1e-9
P_REL = 1e-3
# AIC, AICC and BIC are printed with 1 decimal; SAS's unrounded values carry its -2LL, which is
# up to 1.1e-5 above ours.
FIT_STAT_PRINT_ABS = 0.05 + 1e-4
# Kenward-Roger CSVs carry full precision; the published tolerance of the R package against
# them is mostly 1e-4 relative; we require 1e-3 for estimate, SE, t and CI and 1e-2 for df
# (observed: SE 1.2e-4, t 1.1e-4, CI 5.5e-5, estimate 2.8e-5, df 4.0e-4 relative).
KR_REL = 1e-3
KR_DF_REL = 1e-2

SAS_GROUPED_LABELS = {"Variance": "Residual"}  # SAS label with GROUP= -> engine label
FORMULA = "FEV1 ~ ARMCD * AVISIT + RACE + SEX"
SINGLE_STRUCTURES = {  # engine covariance -> (listing, method); all FEV1 ~ 1
    "ar1": ("sas_ar1_reml.txt", "reml"),
    "ar1h": ("sas_ar1h_reml.txt", "reml"),
    "cs": ("sas_cs_reml.txt", "reml"),
    "csh": ("sas_csh_reml.txt", "reml"),
    "toeph": ("sas_toeph_reml.txt", "reml"),
    "adh": ("sas_adh_reml.txt", "reml"),  # SAS ANTE(1)
    "us": ("sas_log_simple_reml.txt", "reml"),
    "us-ml": ("sas_log_simple.txt", "ml"),
}
GROUP_STRUCTURES = ["adh", "ar1", "ar1h", "cs", "csh", "toeph"]
KR_COVARIANCES = ["us", "ar1", "arh1", "cs", "csh", "toep", "toeph", "adh"]


# ---- helpers -----------------------------------------------------------------------------

def _listing(reference_dir, name: str, folder: str = "sas") -> str:
    path = reference_dir / "fev" / folder / name
    assert path.is_file(), f"reference listing {path} is missing"
    return path.read_text()


@pytest.fixture(scope="module")
def fitted(fev_data):
    """Memoised ``fit_mmrm`` on the FEV data (several tests share each fit)."""

    @functools.cache
    def cached(formula, covariance, method, group, df_method):
        return fit_mmrm(fev_data, formula, subject="USUBJID", visit="AVISIT",
                        covariance=covariance, method=method, group=group, df_method=df_method)

    def fit(formula, covariance="us", method="reml", group=None, df_method="satterthwaite"):
        return cached(formula, covariance, method, group, df_method)

    return fit


COMPARISONS: list = []  # (test, quantity, ours, SAS, allowed) of every comparison, for reports


class Mismatches:
    """Collects every comparison outside tolerance, so one failure reports all of them."""

    def __init__(self):
        self.problems: list[str] = []

    def close(self, what, ours, sas, *, rel=0.0, abs_=0.0):
        ours, sas = float(ours), float(sas)
        COMPARISONS.append((os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], what, ours, sas,
                            rel * abs(sas) + abs_))
        if not abs(ours - sas) <= rel * abs(sas) + abs_:
            self.problems.append(f"{what}: ours {ours:.8g}, SAS {sas:.8g} "
                                 f"(diff {ours - sas:.3g}, allowed {rel * abs(sas) + abs_:.3g})")

    def estimate(self, what, ours, sas, se):
        """Estimate-like value printed to 4 decimals: 1e-3 relative or 1e-3 SE."""
        self.close(what, ours, sas, abs_=max(EST_REL * abs(sas), EST_SE_FRACTION * se) + PRINT_HALF_UNIT)

    def inference(self, what, ours: dict, sas: dict):
        """estimate / std_error / df / t / p (/ CI) of one printed row."""
        se = float(sas["std_error"])
        self.estimate(f"{what} estimate", ours["estimate"], sas["estimate"], se)
        self.close(f"{what} SE", ours["std_error"], se, rel=EST_REL, abs_=PRINT_HALF_UNIT)
        self.close(f"{what} df", ours["df"], sas["df"], rel=DF_REL, abs_=DF_PRINT_ABS)
        self.close(f"{what} t", ours["t_value"], sas["t_value"], rel=T_REL, abs_=T_PRINT_ABS)
        if sas.get("p_value_below"):
            if not ours["p_value"] < 1e-4:
                self.problems.append(f"{what} p: ours {ours['p_value']:.3g}, SAS <.0001")
        else:
            self.close(f"{what} p", ours["p_value"], sas["p_value"], rel=P_REL, abs_=P_PRINT_ABS)
        for key in ("ci_lower", "ci_upper"):
            if key in sas and not pd.isna(sas[key]):
                self.estimate(f"{what} {key}", ours[key], sas[key], se)

    def check(self):
        assert not self.problems, "differences from SAS:\n  " + "\n  ".join(self.problems)


def _check_neg2ll(m: Mismatches, fit, text):
    sas = sas_listing.neg2_loglik(text)
    m.close("-2LL", fit.neg2_loglik, sas, rel=NEG2LL_REL)
    if fit.neg2_loglik > sas + NEG2LL_NOT_WORSE_ABS:
        m.problems.append(f"-2LL: ours {fit.neg2_loglik:.8f} is worse than SAS's {sas:.8f}")


def _check_covariance_parameters(m: Mismatches, fit, text, label_map=None):
    """Covariance parameters by SAS label (and group). SAS numbers UN(i,j) in its REPEATED
    visit order (its class order, read from the listing), which may differ from ours: UN
    entries are compared as covariances of the same pair of visits. The other structures
    depend on the visit order itself, so there SAS's order must be ours."""
    sas = sas_listing.covariance_parameters(text)
    sas_order = sas_listing.class_levels(text)["AVISIT"].split()
    ours = fit.covariance_parameters
    assert len(sas) == len(ours), f"{len(ours)} covariance parameters, SAS has {len(sas)}"
    ours_by_key = {(r.parameter, r.group): r for r in ours.itertuples()}
    if not sas["parameter"].str.startswith("UN(").all():
        assert sas_order == list(fit.visits), f"SAS's visit order {sas_order} is not ours {fit.visits}"
    for r in sas.itertuples():
        label = (label_map or {}).get(r.parameter, r.parameter)
        if label.startswith("UN("):
            i, j = (int(k) for k in label[3:-1].split(","))
            vi, vj = sas_order[i - 1], sas_order[j - 1]
            a, b = sorted((fit.visits.index(vi) + 1, fit.visits.index(vj) + 1), reverse=True)
            label, what = f"UN({a},{b})", f"{r.parameter} ({vi},{vj})"  # our label, same visits
        else:
            what = f"{r.parameter} {r.group}".strip()
        key = (label, r.group)
        assert key in ours_by_key, f"SAS parameter {r.parameter} {r.group} not in {list(ours_by_key)}"
        mine = ours_by_key[key]
        m.close(what, mine.estimate, r.estimate,
                abs_=max(COV_REL * abs(r.estimate), COV_SE_FRACTION * mine.std_error))


def _term_key(term: str) -> frozenset:
    """'ARMCD[T.TRT]:AVISIT[T.VIS2]' -> {('ARMCD', 'TRT'), ('AVISIT', 'VIS2')}."""
    if term == "Intercept":
        return frozenset()
    parts = []
    for factor in term.split(":"):
        name, _, level = factor.partition("[T.")
        parts.append((name, level.rstrip("]")))
    return frozenset(parts)


def _sas_key(row: pd.Series, class_columns) -> frozenset:
    """SAS's fixed-effect row (effect 'AVISIT*ARMCD', levels VIS2 / TRT) -> the same key."""
    if row["effect"] == "Intercept":
        return frozenset()
    return frozenset((name, row[name]) for name in row["effect"].split("*") if name in class_columns)


def _check_fixed_effects(m: Mismatches, fit, text):
    sas = sas_listing.fixed_effects(text)
    columns = list(sas.columns)
    class_columns = columns[columns.index("effect") + 1:columns.index("estimate")]
    ours = {_term_key(r["term"]): r for _, r in fit.coefficients.iterrows()}
    assert len(sas) == len(ours), f"{len(ours)} fixed effects, SAS has {len(sas)} non-aliased"
    for _, row in sas.iterrows():
        key = _sas_key(row, class_columns)
        assert key in ours, f"SAS effect {row['effect']} {sorted(key)} has no engine term"
        m.inference(f"{row['effect']} {' '.join(v for _, v in sorted(key))}".strip(),
                    ours[key], row)


def _check_fit_statistics(m: Mismatches, fit, text, which=("AIC", "AICC", "BIC")):
    sas = sas_listing.fit_statistics(text)
    ours = {"AIC": fit.aic, "AICC": fit.aicc, "BIC": fit.bic}
    for name in which:
        m.close(name, ours[name], sas[name], abs_=FIT_STAT_PRINT_ABS)


def _lsmean_row(fit, spec: dict, levels: dict) -> np.ndarray:
    """Contrast row of the LS-mean at ``spec``, the other factors averaged with equal weights
    over their ``levels`` (SAS LSMEANS, treatment coding)."""
    row = np.zeros(len(fit.terms))
    for j, term in enumerate(fit.terms):
        weight = 1.0
        for name, level in _term_key(term):
            if name in spec:
                weight *= float(spec[name] == level)
            else:
                weight *= 1.0 / len(levels[name])
        row[j] = weight
    return row


# ---- the parser --------------------------------------------------------------------------
def _values(row, *columns):
    return tuple(row[c] for c in columns)


def test_sas_listing_parser_reads_published_numbers(reference_dir):
    """Numbers typed in from the listings: the parser reads the right cells, also across
    page breaks (covariance parameters of ANTE(1) and UN, BIC of the UN REML fit) and
    ignores PROC PRINT pages after PROC MIXED's output."""
    text = _listing(reference_dir, "sas_log_reml.txt")
    assert sas_listing.neg2_loglik(text) == 3386.44987722
    assert sas_listing.fit_statistics(text) == {"-2LL": 3386.4, "AIC": 3406.4, "AICC": 3406.9,
                                                "BIC": 3439.4}
    assert sas_listing.class_levels(text)["AVISIT"].split() == ["VIS2", "VIS3", "VIS4", "VIS1"]
    cov = sas_listing.covariance_parameters(text).set_index("parameter")["estimate"]
    assert (cov["UN(1,1)"], cov["UN(4,3)"], cov["UN(4,4)"]) == (26.5692, 13.3731, 40.5509)

    fixed = sas_listing.fixed_effects(text)
    assert len(fixed) == 11  # 20 columns in X minus 9 aliased reference rows
    white = fixed[fixed["RACE"] == "White"].iloc[0]
    assert _values(white, "estimate", "std_error", "df", "t_value") == (5.6436, 0.6656, 157, 8.48)
    assert bool(white["p_value_below"])
    black = fixed[fixed["RACE"] == "Black or African American"].iloc[0]
    assert _values(black, "estimate", "p_value") == (1.5305, 0.0153)
    inter = fixed[(fixed["effect"] == "AVISIT*ARMCD") & (fixed["AVISIT"] == "VIS2")].iloc[0]
    assert _values(inter, "ARMCD", "estimate", "p_value") == ("TRT", -0.04231, 0.9702)

    lsm = sas_listing.lsmeans(text)
    assert len(lsm) == 8
    vis4_pbo = lsm[(lsm["AVISIT"] == "VIS4") & (lsm["ARMCD"] == "PBO")].iloc[0]
    assert _values(vis4_pbo, "estimate", "std_error", "df", "ci_lower", "ci_upper") == (
        48.3855, 1.1886, 134, 46.0346, 50.7364)
    diffs = sas_listing.lsmean_differences(text)
    assert len(diffs) == 28  # all pairs of 8 LS-means
    vis2 = diffs[(diffs["AVISIT"] == "VIS2") & (diffs["_AVISIT"] == "VIS2")].iloc[0]
    assert _values(vis2, "ARMCD", "_ARMCD") == ("TRT", "PBO")
    assert _values(vis2, "estimate", "std_error", "df", "ci_lower", "ci_upper") == (
        3.7322, 0.8588, 145, 2.0348, 5.4296)

    assert sas_listing.neg2_loglik(_listing(reference_dir, "sas_log.txt")) == 3397.57220025
    adh = sas_listing.covariance_parameters(_listing(reference_dir, "sas_adh_reml.txt"))
    assert list(adh["parameter"]) == ["Var(1)", "Var(2)", "Var(3)", "Var(4)",
                                      "Rho(1)", "Rho(2)", "Rho(3)"]  # Rho on the next page
    assert list(adh["estimate"]) == [114.89, 44.6313, 26.8922, 158.47, 0.7106, 0.1033, 0.3657]
    simple = _listing(reference_dir, "sas_log_simple_reml.txt")
    assert sas_listing.class_levels(simple)["AVISIT"].split() == ["VIS2", "VIS3", "VIS4", "VIS1"]
    simple_cov = sas_listing.covariance_parameters(simple)
    assert len(simple_cov) == 10
    assert _values(simple_cov.iloc[5], "parameter", "estimate") == ("UN(3,3)", 158.17)  # page 3
    toeph = sas_listing.covariance_parameters(_listing(reference_dir, "sas_group_toeph_reml.txt"))
    assert _values(toeph.iloc[-1], "parameter", "group_effect", "group", "estimate") == (
        "TOEPH(3)", "ARMCD", "TRT", -0.2741)
    group_cs = sas_listing.covariance_parameters(_listing(reference_dir, "sas_group_cs_reml.txt"))
    assert list(group_cs["parameter"]) == ["Variance", "CS", "Variance", "CS"]
    ar1h = _listing(reference_dir, "sas_group_ar1h_reml.txt")
    assert len(sas_listing.covariance_parameters(ar1h)) == 10  # not the PROC PRINT copy
    assert _values(sas_listing.fixed_effects(ar1h).iloc[0], "effect", "estimate", "std_error", "df") == (
        "Intercept", 41.7104, 0.3723, 177)
    kr = sas_listing.lsmean_differences(_listing(reference_dir, "kr_us.txt", "kenward_roger"))
    assert _values(kr.iloc[0], "estimate", "std_error", "df") == (3.8197, 0.6612, 161)


def test_sas_listing_parser_joins_tables_split_by_page_breaks(reference_dir):
    """A page break (form feed, title line, procedure name, repeated table title and
    header) inserted in the middle of the fixed-effect solution and the LS-mean differences
    changes nothing."""
    text = _listing(reference_dir, "sas_log_reml.txt")
    lines = text.split("\n")

    def break_before(lines, row_start, title):
        i = next(k for k, line in enumerate(lines) if line.lstrip().startswith(row_start))
        title_at = next(k for k, line in enumerate(lines) if line.strip() == title)
        header = lines[title_at + 1:next(k for k in range(title_at + 1, len(lines))
                                         if lines[k].strip().startswith(("Intercept", "AVISIT*ARMCD")))]
        page = ["\f" + " " * 59 + "The SAS System" + " " * 20 + "Thursday, June 23, 2022 10:11:00 PM   9",
                "", " " * 56 + "The Mixed Procedure", "", " " * 52 + title] + header
        return lines[:i] + page + lines[i:]

    split = break_before(lines, "RACE            Black", "Solution for Fixed Effects")
    split = break_before(split, "AVISIT*ARMCD   VIS3     TRT     VIS3", "Differences of Least Squares Means")
    split_text = "\n".join(split)
    assert split_text.count("Solution for Fixed Effects") == 2
    assert split_text.count("Differences of Least Squares Means") == 2
    pd.testing.assert_frame_equal(sas_listing.fixed_effects(split_text), sas_listing.fixed_effects(text))
    pd.testing.assert_frame_equal(sas_listing.lsmean_differences(split_text),
                                  sas_listing.lsmean_differences(text))
    assert len(sas_listing.lsmean_differences(split_text)) == 28


# ---- unstructured, full model (sas_log_reml.txt, sas_log.txt) ----------------------------
def _check_unstructured(fit, text):
    # SAS's class (and REPEATED) order of AVISIT in these listings: VIS1, the reference, last
    assert sas_listing.class_levels(text)["AVISIT"].split() == ["VIS2", "VIS3", "VIS4", "VIS1"]
    m = Mismatches()
    _check_neg2ll(m, fit, text)
    _check_covariance_parameters(m, fit, text)
    _check_fixed_effects(m, fit, text)
    m.check()


def test_mmrm_matches_sas_unstructured_reml(reference_dir, fitted):
    """-2 Res LL, the 10 UN parameters and the 11 fixed effects (estimate, SE, Satterthwaite
    df, t, p) of FEV1 ~ ARMCD*AVISIT + RACE + SEX, REML."""
    _check_unstructured(fitted(FORMULA), _listing(reference_dir, "sas_log_reml.txt"))


def test_mmrm_matches_sas_unstructured_ml(reference_dir, fitted):
    """The same model fitted by ML (sas_log.txt): -2 LL, UN parameters, fixed effects."""
    _check_unstructured(fitted(FORMULA, method="ml"), _listing(reference_dir, "sas_log.txt"))


def test_lsmeans_match_sas_unstructured_reml(reference_dir, fitted):
    """LS-means of AVISIT*ARMCD (RACE, SEX averaged with equal weights): estimate, SE, df,
    t, p and 95% CI of all 8 cells."""
    fit = fitted(FORMULA)
    sas = sas_listing.lsmeans(_listing(reference_dir, "sas_log_reml.txt"))
    ours = fit.lsmeans(["AVISIT", "ARMCD"])
    ours = {(str(r["AVISIT"]), str(r["ARMCD"])): r for _, r in ours.iterrows()}
    assert len(sas) == len(ours) == 8
    m = Mismatches()
    for _, row in sas.iterrows():
        m.inference(f"LS-mean {row['AVISIT']} {row['ARMCD']}", ours[(row["AVISIT"], row["ARMCD"])], row)
    m.check()


def test_treatment_differences_match_sas_unstructured_reml(reference_dir, fitted):
    """TRT - PBO at each visit (fit.treatment_contrasts) against SAS's LS-mean differences:
    estimate, SE, df, t, p and 95% CI."""
    fit = fitted(FORMULA)
    diffs = sas_listing.lsmean_differences(_listing(reference_dir, "sas_log_reml.txt"))
    sas = diffs[(diffs["AVISIT"] == diffs["_AVISIT"]) & (diffs["ARMCD"] == "TRT") & (diffs["_ARMCD"] == "PBO")]
    ours = fit.treatment_contrasts(arm="ARMCD", reference="PBO", treatment="TRT").set_index("visit")
    assert sorted(sas["AVISIT"]) == sorted(ours.index) == ["VIS1", "VIS2", "VIS3", "VIS4"]
    m = Mismatches()
    for _, row in sas.iterrows():
        m.inference(f"TRT-PBO at {row['AVISIT']}", ours.loc[row["AVISIT"]], row)
    m.check()


def test_lsmean_pairwise_differences_match_sas_unstructured_reml(reference_dir, fitted, fev_data):
    """All 28 pairwise differences of the 8 LS-means (across visits too, where the
    Satterthwaite df differ most from the per-visit ones), through ``fit.contrast``."""
    fit = fitted(FORMULA)
    sas = sas_listing.lsmean_differences(_listing(reference_dir, "sas_log_reml.txt"))
    levels = {c: list(fev_data[c].cat.categories) for c in ("ARMCD", "AVISIT", "RACE", "SEX")}
    # our contrast rows reproduce the engine's own LS-means first
    lsm = fit.lsmeans(["AVISIT", "ARMCD"])
    rows = np.array([_lsmean_row(fit, {"AVISIT": r["AVISIT"], "ARMCD": r["ARMCD"]}, levels)
                     for _, r in lsm.iterrows()])
    np.testing.assert_allclose(fit.contrast(rows)["estimate"], lsm["estimate"], rtol=1e-12)
    L = np.array([_lsmean_row(fit, {"AVISIT": r["AVISIT"], "ARMCD": r["ARMCD"]}, levels)
                  - _lsmean_row(fit, {"AVISIT": r["_AVISIT"], "ARMCD": r["_ARMCD"]}, levels)
                  for _, r in sas.iterrows()])
    ours = fit.contrast(L)
    m = Mismatches()
    for (_, row), (_, mine) in zip(sas.iterrows(), ours.iterrows()):
        m.inference(f"{row['AVISIT']} {row['ARMCD']} - {row['_AVISIT']} {row['_ARMCD']}", mine, row)
    m.check()


# ---- single structures and grouped structures (FEV1 ~ 1) ---------------------------------
@pytest.mark.parametrize("structure", list(SINGLE_STRUCTURES))
def test_mmrm_matches_sas_single_structures(reference_dir, fitted, structure):
    """FEV1 ~ 1 with one covariance structure (``us-ml``: UN fitted by ML): -2 (Res) LL,
    covariance parameters by SAS label, intercept (estimate, SE, Satterthwaite df, t, p)."""
    listing, method = SINGLE_STRUCTURES[structure]
    text = _listing(reference_dir, listing)
    fit = fitted("FEV1 ~ 1", covariance=structure.split("-")[0], method=method)
    m = Mismatches()
    _check_neg2ll(m, fit, text)
    _check_covariance_parameters(m, fit, text)
    _check_fixed_effects(m, fit, text)
    m.check()


@pytest.mark.parametrize("structure", GROUP_STRUCTURES)
def test_mmrm_matches_sas_group_structures(reference_dir, fitted, structure):
    """FEV1 ~ 1 with a separate covariance matrix per arm (group=ARMCD): -2 Res LL,
    covariance parameters per group, intercept."""
    text = _listing(reference_dir, f"sas_group_{structure}_reml.txt")
    fit = fitted("FEV1 ~ 1", covariance=structure, group="ARMCD")
    assert list(fit.groups) == ["PBO", "TRT"]
    m = Mismatches()
    _check_neg2ll(m, fit, text)
    _check_covariance_parameters(m, fit, text, label_map=SAS_GROUPED_LABELS)
    _check_fixed_effects(m, fit, text)
    m.check()


# ---- fit statistics ----------------------------------------------------------------------
FIT_STATISTIC_CASES = {
    "unstructured-reml": ("sas_log_reml.txt", dict(formula=FORMULA)),
    "unstructured-ml": ("sas_log.txt", dict(formula=FORMULA, method="ml")),
    **{f"single-{s}": (listing, dict(formula="FEV1 ~ 1", covariance=s.split("-")[0], method=method))
       for s, (listing, method) in SINGLE_STRUCTURES.items()},
    **{f"group-{s}": (f"sas_group_{s}_reml.txt", dict(formula="FEV1 ~ 1", covariance=s, group="ARMCD"))
       for s in GROUP_STRUCTURES},
}


@pytest.mark.parametrize("case", list(FIT_STATISTIC_CASES))
def test_aic_aicc_match_sas(reference_dir, fitted, case):
    """AIC and AICC (printed to 1 decimal) of every SAS listing."""
    listing, kwargs = FIT_STATISTIC_CASES[case]
    fit = fitted(**kwargs)
    m = Mismatches()
    _check_fit_statistics(m, fit, _listing(reference_dir, listing), which=("AIC", "AICC"))
    m.check()


@pytest.mark.parametrize("case", list(FIT_STATISTIC_CASES))
def test_bic_matches_sas(reference_dir, fitted, fev_data, case):
    """BIC (printed to 1 decimal) of every SAS listing. SAS's sample size is the number of
    subjects ("Subjects 200" in its Dimensions table), which includes the 3 subjects whose
    FEV1 is missing at every visit."""
    listing, kwargs = FIT_STATISTIC_CASES[case]
    fit = fitted(**kwargs)
    m = Mismatches()
    _check_fit_statistics(m, fit, _listing(reference_dir, listing), which=("BIC",))
    if m.problems:  # say what SAS's convention would give
        n_params = round((fit.aic - fit.neg2_loglik) / 2)
        n_input = fev_data["USUBJID"].nunique()
        m.problems.append(f"with all {n_input} subjects of the input as sample size (SAS), BIC = "
                          f"{fit.neg2_loglik + n_params * math.log(n_input):.4f}; "
                          f"the engine used {fit.n_subjects} subjects with data")
    m.check()


# ---- Kenward-Roger ------------------------------------------------------------------------
@pytest.mark.parametrize("covariance", KR_COVARIANCES)
@pytest.mark.parametrize("variant", ["kr", "kr1"])
def test_kenward_roger_matches_sas(reference_dir, fitted, covariance, variant):
    """FEV1 ~ ARMCD, TRT - PBO LS-mean difference with ddfm=KR (kr_) or KR(linear) (kr1_):
    estimate, adjusted SE, df, t and CI from SAS's full-precision CSV, and the -2 Res LL
    of the listing beside it."""
    folder = reference_dir / "fev" / "kenward_roger"
    sas = pd.read_csv(folder / f"{variant}_{covariance}.csv").iloc[0]
    assert (sas["ARMCD"], sas["_ARMCD"]) == ("TRT", "PBO")
    df_method = "kenward-roger" if variant == "kr" else "kenward-roger-linear"
    fit = fitted("FEV1 ~ ARMCD", covariance=covariance, df_method=df_method)
    ours = fit.treatment_contrasts(arm="ARMCD", reference="PBO", treatment="TRT").iloc[0]
    m = Mismatches()
    m.close("estimate", ours["estimate"], sas["Estimate"], rel=KR_REL)
    m.close("SE", ours["std_error"], sas["StdErr"], rel=KR_REL)
    m.close("df", ours["df"], sas["DF"], rel=KR_DF_REL)
    m.close("t", ours["t_value"], sas["tValue"], rel=KR_REL)
    m.close("CI lower", ours["ci_lower"], sas["Lower"], rel=KR_REL)
    m.close("CI upper", ours["ci_upper"], sas["Upper"], rel=KR_REL)
    _check_neg2ll(m, fit, (folder / f"{variant}_{covariance}.txt").read_text())
    m.check()


# ---- robustness ----------------------------------------------------------------------------
def test_rank_deficient_design_names_the_non_estimable_term(fev_data):
    """No TRT observation at VIS4: ARMCD:AVISIT[VIS4] is not estimable."""
    data = fev_data[~((fev_data["ARMCD"] == "TRT") & (fev_data["AVISIT"] == "VIS4"))]
    with pytest.raises(MMRMError, match=r"rank deficient.*ARMCD\[T\.TRT\]:AVISIT\[T\.VIS4\]"):
        fit_mmrm(data, "FEV1 ~ ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")


def test_single_subject_is_an_error(fev_data):
    data = fev_data[fev_data["USUBJID"] == "PT2"]
    with pytest.raises(MMRMError, match="at least two subjects"):
        fit_mmrm(data, "FEV1 ~ 1", subject="USUBJID", visit="AVISIT")


def test_unknown_covariance_lists_the_known_ones(fev_data):
    with pytest.raises(ValueError, match="unknown covariance structure 'banded'") as info:
        fit_mmrm(fev_data, "FEV1 ~ ARMCD", subject="USUBJID", visit="AVISIT", covariance="banded")
    for known in ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh"):
        assert known in str(info.value).split("choose one of:")[1].replace(",", " ").split()


def test_duplicated_subject_visit_rows_are_an_error(fev_data):
    data = pd.concat([fev_data, fev_data.iloc[[1]]], ignore_index=True)  # PT1 at VIS2 twice
    with pytest.raises(MMRMError, match=r"duplicated USUBJID x AVISIT.*'PT1'.*'VIS2'"):
        fit_mmrm(data, "FEV1 ~ ARMCD", subject="USUBJID", visit="AVISIT")


def test_fallback_chain_records_the_failed_structure(fev_data):
    """3 complete subjects x 4 visits: 10 UN parameters cannot be estimated from 12
    observations; without a fallback the fit fails, with one it falls back to AR(1) and
    records why UN was not fitted (skipped by the identifiability check, before any optimizer)."""
    complete = fev_data.groupby("USUBJID", observed=True)["FEV1"].apply(lambda s: s.notna().sum() == 4)
    subjects = list(complete[complete].index[:3])
    data = fev_data[fev_data["USUBJID"].isin(subjects)]
    kwargs = dict(subject="USUBJID", visit="AVISIT", covariance="us")
    with pytest.raises(MMRMError, match=r"did not converge with any covariance structure in \['us'\]"):
        fit_mmrm(data, "FEV1 ~ 1", **kwargs)
    fit = fit_mmrm(data, "FEV1 ~ 1", fallback=["ar1", "cs"], **kwargs)
    assert fit.structure == "ar1"
    assert fit.attempts, "the failed UN attempts are not recorded"
    assert {a["structure"] for a in fit.attempts} == {"us"}
    assert [a["status"] for a in fit.attempts] == ["skipped"]  # not identifiable: no optimizer run
    assert "participants" in fit.attempts[0]["message"]
    assert math.isfinite(fit.neg2_loglik)
