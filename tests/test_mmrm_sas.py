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

* ``sas_log_reml.txt`` / ``sas_log.txt`` order AVISIT as VIS2 VIS3 VIS4 VIS1 (SAS's class
  order; VIS1 is the reference, last), so UN(i,j) there refers to that order; the order is read
  from the listing's Class Level Information. Our fit keeps VIS1..VIS4 with the same reference
  levels as SAS (PBO, VIS1, Asian, Male).
* With GROUP=, SAS labels the residual variance of CS and AR(1) ``Variance``; the engine
  labels it ``Residual`` (see ``SAS_GROUPED_LABELS``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest

import sas_listing
from pilottrial.mmrm import MMRMError, fit_mmrm

# ---- tolerances --------------------------------------------------------------------------
# -2 (Res) log-likelihood vs the last line of SAS's iteration history (8 decimals). SAS stops
# early, ours is the (slightly lower) optimum; observed differences are below 2e-9 relative.
NEG2LL_REL = 1e-8
# Our optimum must not be worse than SAS's final iterate by more than rounding noise.
NEG2LL_NOT_WORSE_ABS = 1e-6
# Covariance parameters: SAS's early stop moves parameters in flat directions of the
# likelihood (e.g. CS with SE 4.0 near 5.9, Rho(2) 0.026 with SE 0.17) by more than 1e-3
# relative, so a parameter matches if within 1e-3 relative OR within 0.01 of its standard
# error (observed: at most 1.3e-3 relative / 0.003 SE).
COV_REL = 1e-3
COV_SE_FRACTION = 0.01
# Fixed effects, LS-means, differences (estimate, SE, CI limits): 1e-3 relative, or 1e-3 of the
# standard error in absolute terms (for estimates near zero), plus half a unit of SAS's
# 4th printed decimal.
EST_REL = 1e-3
EST_SE_FRACTION = 1e-3
PRINT_HALF_UNIT = 5e-5
# Degrees of freedom are printed rounded to integers: |ours - SAS| <= 0.5 (+ float noise).
DF_PRINT_ABS = 0.5 + 1e-9
# t values are printed with 2 decimals.
T_PRINT_ABS = 0.005 + 1e-9
T_REL = 1e-3
# p-values printed with 4 decimals (or "<.0001").
P_PRINT_ABS = 5e-5 + 1e-9
P_REL = 1e-3
# AIC, AICC and BIC are printed with 1 decimal.
FIT_STAT_PRINT_ABS = 0.05 + 1e-9
# Kenward-Roger CSVs carry full precision; the published tolerance of the R package against
# them is 1e-4 relative; we require 1e-3 for estimate and SE and 1e-2 for df.
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

    @functools.lru_cache(maxsize=None)
    def cached(formula, covariance, method, group, df_method):
        return fit_mmrm(fev_data, formula, subject="USUBJID", visit="AVISIT",
                        covariance=covariance, method=method, group=group, df_method=df_method)

    def fit(formula, covariance="us", method="reml", group=None, df_method="satterthwaite"):
        return cached(formula, covariance, method, group, df_method)

    return fit


class Mismatches:
    """Collects every comparison outside tolerance, so one failure reports all of them."""

    def __init__(self):
        self.problems: list[str] = []

    def close(self, what, ours, sas, *, rel=0.0, abs_=0.0):
        ours, sas = float(ours), float(sas)
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
        self.close(f"{what} df", ours["df"], sas["df"], abs_=DF_PRINT_ABS)
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
    sas = sas_listing.covariance_parameters(text)
    ours = fit.covariance_parameters
    ours_by_key = {(r.parameter, r.group if r.group is not None else ""): r for r in ours.itertuples()}
    assert len(sas) == len(ours), f"{len(ours)} covariance parameters, SAS has {len(sas)}"
    for r in sas.itertuples():
        label = (label_map or {}).get(r.parameter, r.parameter)
        key = (label, r.group)
        assert key in ours_by_key, f"SAS parameter {r.parameter} {r.group} not in {list(ours_by_key)}"
        mine = ours_by_key[key]
        m.close(f"{r.parameter} {r.group}".strip(), mine.estimate, r.estimate,
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
    class_columns = [c for c in sas.columns if c.isupper() and c != "DF"]
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
    assert (white["estimate"], white["std_error"], white["df"], white["t_value"]) == (5.6436, 0.6656, 157, 8.48)
    assert bool(white["p_value_below"])
    inter = fixed[(fixed["effect"] == "AVISIT*ARMCD") & (fixed["AVISIT"] == "VIS2")].iloc[0]
    assert (inter["ARMCD"], inter["estimate"], inter["p_value"]) == ("TRT", -0.04231, 0.9702)
    lsm = sas_listing.lsmeans(text)
    assert len(lsm) == 8
    vis4_pbo = lsm[(lsm["AVISIT"] == "VIS4") & (lsm["ARMCD"] == "PBO")].iloc[0]
    assert (vis4_pbo["estimate"], vis4_pbo["std_error"], vis4_pbo["df"]) == (48.3855, 1.1886, 134)
    assert (vis4_pbo["ci_lower"], vis4_pbo["ci_upper"]) == (46.0346, 50.7364)
    diffs = sas_listing.lsmean_differences(text)
    assert len(diffs) == 28  # all pairs of 8 LS-means
    vis2 = diffs[(diffs["AVISIT"] == "VIS2") & (diffs["_AVISIT"] == "VIS2")].iloc[0]
    assert (vis2["ARMCD"], vis2["_ARMCD"]) == ("TRT", "PBO")
    assert (vis2["estimate"], vis2["std_error"], vis2["df"]) == (3.7322, 0.8588, 145)
    assert (vis2["ci_lower"], vis2["ci_upper"]) == (2.0348, 5.4296)

    assert sas_listing.neg2_loglik(_listing(reference_dir, "sas_log.txt")) == 3397.57220025
    adh = sas_listing.covariance_parameters(_listing(reference_dir, "sas_adh_reml.txt"))
    assert list(adh["parameter"]) == ["Var(1)", "Var(2)", "Var(3)", "Var(4)", "Rho(1)", "Rho(2)", "Rho(3)"]
    assert list(adh["estimate"]) == [114.89, 44.6313, 26.8922, 158.47, 0.7106, 0.1033, 0.3657]
    simple = sas_listing.covariance_parameters(_listing(reference_dir, "sas_log_simple_reml.txt"))
    assert len(simple) == 10 and simple["estimate"].iloc[5] == 158.17  # UN(3,3), after a page break
    toeph = sas_listing.covariance_parameters(_listing(reference_dir, "sas_group_toeph_reml.txt"))
    last = toeph.iloc[-1]
    assert (last["parameter"], last["group_effect"], last["group"], last["estimate"]) == ("TOEPH(3)", "ARMCD", "TRT", -0.2741)
    ar1h = _listing(reference_dir, "sas_group_ar1h_reml.txt")
    assert len(sas_listing.covariance_parameters(ar1h)) == 10  # not the PROC PRINT copy
    intercept = sas_listing.fixed_effects(ar1h).iloc[0]
    assert (intercept["effect"], intercept["estimate"], intercept["std_error"], intercept["df"]) == ("Intercept", 41.7104, 0.3723, 177)
    kr = sas_listing.lsmean_differences(_listing(reference_dir, "kr_us.txt", "kenward_roger"))
    assert (kr["estimate"].iloc[0], kr["std_error"].iloc[0], kr["df"].iloc[0]) == (3.8197, 0.6612, 161)


# ---- unstructured, full model (sas_log_reml.txt, sas_log.txt) ----------------------------
def _check_unstructured(fit, text):
    m = Mismatches()
    _check_neg2ll(m, fit, text)
    sas_order = sas_listing.class_levels(text)["AVISIT"].split()  # the REPEATED order in SAS
    assert sas_order == ["VIS2", "VIS3", "VIS4", "VIS1"]
    sas = sas_listing.covariance_parameters(text)
    ours_se = fit.covariance_parameters.set_index("parameter")["std_error"]
    for r in sas.itertuples():
        i, j = (int(k) for k in r.parameter[3:-1].split(","))
        vi, vj = sas_order[i - 1], sas_order[j - 1]
        # the engine's UN label for the same pair of visits, to look its SE up
        a, b = sorted((fit.visits.index(vi) + 1, fit.visits.index(vj) + 1), reverse=True)
        m.close(f"{r.parameter} ({vi},{vj})", fit.covariance.loc[vi, vj], r.estimate,
                abs_=max(COV_REL * abs(r.estimate), COV_SE_FRACTION * ours_se[f"UN({a},{b})"]))
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
    """FEV1 ~ 1 with one covariance structure: -2 Res LL, covariance parameters by SAS
    label, intercept (estimate, SE, Satterthwaite df, t)."""
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
def test_bic_matches_sas(reference_dir, fitted, case):
    """BIC (printed to 1 decimal) of every SAS listing. SAS's sample size is the number of
    subjects ("Subjects 200" in its Dimensions table), which includes the 3 subjects whose
    FEV1 is missing at every visit."""
    listing, kwargs = FIT_STATISTIC_CASES[case]
    fit = fitted(**kwargs)
    m = Mismatches()
    _check_fit_statistics(m, fit, _listing(reference_dir, listing), which=("BIC",))
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
    observations; the fit falls back to AR(1) and records why UN failed."""
    complete = fev_data.groupby("USUBJID", observed=True)["FEV1"].apply(lambda s: s.notna().sum() == 4)
    subjects = list(complete[complete].index[:3])
    data = fev_data[fev_data["USUBJID"].isin(subjects)]
    with pytest.raises(MMRMError, match="did not converge"):
        fit_mmrm(data, "FEV1 ~ 1", subject="USUBJID", visit="AVISIT", covariance="us")
    fit = fit_mmrm(data, "FEV1 ~ 1", subject="USUBJID", visit="AVISIT", covariance="us",
                   fallback=["ar1", "cs"])
    assert fit.structure in ("ar1", "cs")
    assert fit.attempts, "the failed UN attempts are not recorded"
    assert all(a["structure"] == "us" for a in fit.attempts)
    assert all(a["message"] for a in fit.attempts)
    assert math.isfinite(fit.neg2_loglik)
