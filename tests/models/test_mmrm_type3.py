"""Type III F tests of the MMRM against SAS PROC MIXED (fev/sas/sas_log_reml.txt,
"Type 3 Tests of Fixed Effects", DDFM=SATTERTHWAITE)."""

import pytest

from pilottrial.models.mmrm import fit_mmrm

# Published in the listing: Num DF, Den DF (printed as integers), F Value (2 decimals).
SAS_TYPE3 = {
    "ARMCD": (1, 169, 31.67),
    "AVISIT": (3, 148, 142.11),
    "ARMCD:AVISIT": (3, 148, 0.26),
    "RACE": (2, 166, 36.92),
    "SEX": (1, 166, 0.38),
}
DEN_DF_ATOL = 0.5 + 1e-9  # SAS rounds the denominator df to an integer
F_ATOL = 0.005 + 1e-9  # two printed decimals ...
F_RTOL = 5e-4  # ... or 5e-4 relative: SAS stopped iterating just short of the optimum (its
#               -2 Res LL is 6e-6 above ours), which moves F by up to ~2e-4 relative (RACE)


def test_type3_f_tests_match_sas_unstructured_reml(fev_data):
    fit = fit_mmrm(fev_data, "FEV1 ~ ARMCD * AVISIT + RACE + SEX", subject="USUBJID", visit="AVISIT",
                   covariance="us", method="reml", df_method="satterthwaite")
    table = fit.type3().set_index("term")
    assert set(table.index) == set(SAS_TYPE3)
    for term, (num_df, den_df, F) in SAS_TYPE3.items():
        row = table.loc[term]
        assert row.num_df == num_df, term
        assert abs(row.den_df - den_df) <= DEN_DF_ATOL, (term, row.den_df, den_df)
        assert abs(row.F - F) <= max(F_ATOL, F_RTOL * F), (term, row.F, F)


def test_one_row_f_test_equals_the_squared_t_test(fev_data):
    fit = fit_mmrm(fev_data, "FEV1 ~ ARMCD * AVISIT + RACE + SEX", subject="USUBJID", visit="AVISIT")
    coef = fit.coefficients.set_index("term").loc["SEX[T.Female]"]
    L = [[1.0 if t == "SEX[T.Female]" else 0.0 for t in fit.terms]]
    test = fit.f_test(L)
    assert test["F"] == pytest.approx(coef.t_value**2, rel=1e-10)
    assert test["den_df"] == pytest.approx(coef.df, rel=1e-10)
    assert test["p_value"] == pytest.approx(coef.p_value, rel=1e-8)
