"""Sensitivity analyses of the treatment effect: other models, other assumptions, no model.

The primary analysis (:mod:`pilottrial.models.primary`) is the MMRM of change from baseline,
``change ~ baseline + arm * visit`` with unstructured residual covariance. Each primitive here
re-estimates the same quantity -- the treatment minus reference difference in mean change from
baseline at each visit of one outcome -- under different assumptions:

* :func:`ancova_complete_case` -- one visit at a time, participants observed at that visit (OLS);
* :func:`mixed_anova_complete_case` -- participants complete at every post-baseline visit, no
  baseline adjustment: Welch t per visit, Greenhouse-Geisser arm x visit interaction F;
* :func:`gee_bias_reduced` -- marginal model, exchangeable working correlation, Mancl-DeRouen
  bias-reduced sandwich covariance, t on N - p df;
* :func:`randomization_test` -- p-value from re-randomizing the arm labels (no distributional
  assumption; the sharp null of no effect in anyone);
* :func:`mann_whitney` -- rank test and Hodges-Lehmann shift, no model;
* :func:`lmm_random_intercept` -- random participant intercept (compound symmetry);
* :func:`mmrm_structures` -- the MMRM with each of several covariance structures.

Each primitive takes one outcome's model frame (``participant, arm, visit, baseline, change``),
the arm labels and explicit settings, and returns one row per visit with
:data:`SENSITIVITY_COLUMNS`: the contrast columns of the primary analysis
(:data:`pilottrial.models.primary.CONTRAST_COLUMNS`), ``analysis`` and ``note``. A row that
cannot be estimated (a structure that does not converge, a visit at which the outcome was not
measured) has NaN numbers and the reason in ``note``; nothing raises for a numerical reason.
:func:`sensitivity_analyses` runs them all on every efficacy outcome of a trial at its key
visits (``sensitivity.csv``).
"""

from pilottrial.analyses.sensitivity.ancova import ancova_complete_case
from pilottrial.analyses.sensitivity.anova import complete_cases, mixed_anova_complete_case
from pilottrial.analyses.sensitivity.gee import fit_gee, gee_bias_reduced
from pilottrial.analyses.sensitivity.other_models import SENSITIVITY_STRUCTURES, lmm_random_intercept, mmrm_structures
from pilottrial.analyses.sensitivity.randomization import NULL_FORMULA, randomization_test
from pilottrial.analyses.sensitivity.rank import mann_whitney
from pilottrial.analyses.sensitivity.rows import SENSITIVITY_COLUMNS
from pilottrial.analyses.sensitivity.table import FIXED_ANALYSES, sensitivity_analyses

__all__ = [
    "sensitivity_analyses",
    "ancova_complete_case",
    "mixed_anova_complete_case",
    "gee_bias_reduced",
    "randomization_test",
    "mann_whitney",
    "lmm_random_intercept",
    "mmrm_structures",
    "complete_cases",
    "fit_gee",
    "SENSITIVITY_COLUMNS",
    "SENSITIVITY_STRUCTURES",
    "FIXED_ANALYSES",
    "NULL_FORMULA",
]
