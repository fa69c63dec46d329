"""The trial's models: the MMRM engine, the primary analysis and the crossover analysis.

* :mod:`~pilottrial.models.mmrm` -- the MMRM engine (:func:`fit_mmrm`, :class:`MMRMFit`);
* :mod:`~pilottrial.models.primary` -- descriptives and the treatment contrasts of every outcome
  (:func:`primary_contrasts`) by the MMRM (:func:`fit_outcome_mmrm`) and the LMM;
* :mod:`~pilottrial.models.lmm` -- the random-intercept LMM (:func:`fit_lmm`, :func:`fit_outcome_lmm`);
* :mod:`~pilottrial.models.frame` -- the rows and the formula of one outcome's model;
* :mod:`~pilottrial.models.crossover` -- the 2x2 crossover: analysis table, LMM, carry-over.
"""

from pilottrial import lazy_names

#: Where each public name lives; names are imported on first use, so that a job using one model
#: (the primary models, the crossover) does not load the others' dependencies.
_MODULES = {
    "crossover": ["carryover_test", "crossover_contrasts", "crossover_descriptives", "crossover_models",
                  "crossover_settings", "crossover_table", "fit_crossover_lmm"],
    "frame": ["model_formula", "model_frame"],
    "lmm": ["fit_lmm", "fit_outcome_lmm"],
    "mmrm": ["MMRMError", "MMRMFit", "fit_mmrm", "mmrm_at"],
    "primary": ["CONTRAST_COLUMNS", "descriptives", "fit_outcome_mmrm", "primary_contrasts"],
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES)


__all__ = ["fit_mmrm", "mmrm_at", "MMRMFit", "MMRMError", "fit_lmm", "fit_outcome_lmm", "fit_outcome_mmrm",
           "model_frame", "model_formula", "primary_contrasts", "descriptives", "CONTRAST_COLUMNS",
           "crossover_settings", "crossover_table", "fit_crossover_lmm", "crossover_contrasts", "crossover_models",
           "carryover_test", "crossover_descriptives"]
