"""Mixed models for repeated measures (MMRM) with structured residual covariance.

``fit_mmrm(data, formula, subject=..., visit=..., covariance="us")`` fits by REML or ML and
returns an :class:`MMRMFit` with coefficients, LS-means and treatment contrasts, with
Satterthwaite or Kenward-Roger degrees of freedom. Validated against SAS PROC MIXED
(tests/test_mmrm_sas.py) and R nlme/emmeans (tests/test_r_parity.py).
"""

from .fit import DF_METHODS, MMRMError, MMRMFit, fit_mmrm, mmrm_at
from .structures import STRUCTURES, get_structure

__all__ = ["fit_mmrm", "mmrm_at", "MMRMFit", "MMRMError", "DF_METHODS", "STRUCTURES", "get_structure"]
