"""Mixed models for repeated measures (MMRM) with structured residual covariance.

``fit_mmrm(data, formula, subject=..., visit=..., covariance="us")`` fits by REML or ML and
returns an :class:`MMRMFit` with coefficients, LS-means and treatment contrasts, with
Satterthwaite or Kenward-Roger degrees of freedom. Validated against SAS PROC MIXED
(tests/models/test_mmrm_sas.py) and R nlme/emmeans (tests/models/test_primary_r_parity.py).

Modules: :mod:`~pilottrial.models.mmrm.fit` (fitting with a fallback chain and budgets),
:mod:`~pilottrial.models.mmrm.design` (formula to design and missingness patterns),
:mod:`~pilottrial.models.mmrm.identifiability` (can a structure be estimated from these data),
:mod:`~pilottrial.models.mmrm.random_intercept` (the random-intercept LMM by profiled REML),
:mod:`~pilottrial.models.mmrm.results` (the results object), :mod:`~pilottrial.models.mmrm.structures`
(covariance structures and their parameters), :mod:`~pilottrial.models.mmrm.likelihood` (the
(restricted) likelihood by missingness pattern), :mod:`~pilottrial.models.mmrm.optimise` (starting
values and optimisers), :mod:`~pilottrial.models.mmrm.inference` (Satterthwaite and Kenward-Roger),
:mod:`~pilottrial.models.mmrm.residuals`, :mod:`~pilottrial.models.mmrm.monotone` (the batched fit
of simulated trials), :mod:`~pilottrial.models.mmrm.simulate` (a simulated trial).
"""

from pilottrial import lazy_names

#: Where each public name lives; names are imported on first use, so that a job using one part
#: (the batched fit of simulated trials, :mod:`~pilottrial.models.mmrm.monotone`) does not load
#: the formula and inference machinery of the others.
_MODULES = {
    "fit": ["DF_METHODS", "fit_mmrm", "mmrm_at"],
    "identifiability": ["identifiability_problem"],
    "random_intercept": ["fit_random_intercept"],
    "results": ["MMRMError", "MMRMFit"],
    "structures": ["STRUCTURES", "get_structure"],
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES)


__all__ = ["fit_mmrm", "mmrm_at", "fit_random_intercept", "identifiability_problem", "MMRMFit", "MMRMError",
           "DF_METHODS", "STRUCTURES", "get_structure"]
