"""The MMRM results object: its text summary, fitted values and the central-difference Hessian."""

import numpy as np

from pilottrial.models.mmrm import fit_mmrm
from pilottrial.models.mmrm.simulate import simulate_trial


def test_summary_lists_the_fit_statistics_covariance_parameters_and_fixed_effects():
    fit = fit_mmrm(simulate_trial(60, seed=2), "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")
    text = fit.summary()
    assert text.splitlines()[0] == "MMRM  Y ~ BASE + ARMCD * AVISIT"
    for piece in ("-2 Res Log Likelihood", "AICC", "UN(4,4)", "ARMCD[T.TRT]:AVISIT[T.VIS4]"):
        assert piece in text
    assert len(fit.fitted()) == fit.n_obs == len(fit.model_frame)


def test_central_hessian_changes_the_satterthwaite_df_only_slightly():
    """Forward-difference (the fit) and central-difference Hessians agree to ~1e-5 in the df;
    estimates and standard errors do not depend on them."""
    fit = fit_mmrm(simulate_trial(60, seed=2), "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")
    central = fit.with_central_hessian()
    forward, refined = fit.coefficients, central.coefficients
    np.testing.assert_array_equal(forward["estimate"], refined["estimate"])
    np.testing.assert_array_equal(forward["std_error"], refined["std_error"])
    np.testing.assert_allclose(forward["df"], refined["df"], rtol=1e-4)
