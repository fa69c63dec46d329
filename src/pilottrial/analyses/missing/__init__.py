r"""Missing data: how much is missing, multiple imputation under MAR and reference-based
assumptions, Rubin's rules, and the delta-adjusted tipping point.

* :mod:`~pilottrial.analyses.missing.summaries` -- :func:`missingness_table`,
  :func:`dropout_table` and :func:`missing_data` (``missing_data.csv``);
* :mod:`~pilottrial.analyses.missing.imputation` -- :func:`impute_arrays` and :func:`impute`
  draw completed data sets of one outcome (``mar``, ``j2r``, ``cir``, ``cr``) from
  :func:`fit_imputation_model`;
* :mod:`~pilottrial.analyses.missing.pooling` -- :func:`ancova_arrays` (two arms),
  :func:`ancova_contrast_arrays` (k arms), :func:`rubin_rules`,
  :func:`mi_ancova` and :func:`delta_adjusted_ancova` analyse them; the table builders
  :func:`mi_contrasts` (``multiple_imputation.csv``) and :func:`tipping_point`
  (``tipping_point.csv``) run them on every efficacy outcome of a trial.
"""

from pilottrial.analyses.missing.imputation import (
                                                    IMPUTATION_FORMULA,
                                                    METHODS,
                                                    CompletedData,
                                                    fit_imputation_model,
                                                    impute,
                                                    impute_arrays,
)
from pilottrial.analyses.missing.pooling import (
                                                    MI_CONTRAST_COLUMNS,
                                                    RUBIN_COLUMNS,
                                                    TIPPING_COLUMNS,
                                                    ancova_arrays,
                                                    ancova_contrast_arrays,
                                                    delta_adjusted_ancova,
                                                    mi_ancova,
                                                    mi_contrasts,
                                                    rubin_rules,
                                                    tipping_point,
)
from pilottrial.analyses.missing.summaries import (
                                                    DROPOUT_COLUMNS,
                                                    MISSING_DATA_COLUMNS,
                                                    MISSINGNESS_COLUMNS,
                                                    dropout_table,
                                                    missing_data,
                                                    missingness_table,
)

__all__ = [
    "METHODS",
    "MISSINGNESS_COLUMNS",
    "DROPOUT_COLUMNS",
    "MISSING_DATA_COLUMNS",
    "MI_CONTRAST_COLUMNS",
    "RUBIN_COLUMNS",
    "TIPPING_COLUMNS",
    "IMPUTATION_FORMULA",
    "missingness_table",
    "dropout_table",
    "missing_data",
    "fit_imputation_model",
    "CompletedData",
    "impute_arrays",
    "impute",
    "ancova_arrays",
    "ancova_contrast_arrays",
    "rubin_rules",
    "mi_ancova",
    "delta_adjusted_ancova",
    "mi_contrasts",
    "tipping_point",
]
