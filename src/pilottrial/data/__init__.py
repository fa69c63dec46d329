"""A trial's data: read any format and layout, check it, and derive the tidy analysis table.

* :mod:`~pilottrial.data.readers` -- the file formats (CSV, TSV, Excel, Parquet, SAS, SPSS, Stata),
  missing-value codes and value labels;
* :mod:`~pilottrial.data.layouts` -- long, wide and ADaM layouts, visit windows, the baseline as a column;
* :mod:`~pilottrial.data.checks` -- validation against the config, the de-identification guard, and
  whether the primary analysis can run on the data (:func:`check_analysable`);
* :mod:`~pilottrial.data.table` -- the analysis table (:func:`load_trial`).
"""

from pilottrial import lazy_names

#: Where each public name lives; names are imported on first use, so that a job that only reads
#: the pipeline's tables (:func:`read_table`) does not load the readers and checks (pandera).
_MODULES = {
    "checks": ["check_analysable", "check_identifiers", "check_trial_data"],
    "layouts": ["normalize_layout"],
    "readers": ["FORMATS", "data_format", "read_trial_data"],
    "table": ["ANALYSIS_COLUMNS", "LABEL_COLUMNS", "derive_analysis_table", "load_trial", "model_covariates",
              "read_and_check", "read_table"],
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES)


__all__ = ["load_trial", "read_and_check", "read_trial_data", "check_trial_data", "derive_analysis_table",
           "normalize_layout", "check_identifiers", "model_covariates", "data_format", "FORMATS",
           "ANALYSIS_COLUMNS", "LABEL_COLUMNS", "read_table", "check_analysable"]
