"""Reader-facing names of the report: covariance structures, analyses, and small word helpers.

The tables of the pipeline carry codes (``us``, ``mmrm_toeph``, ``gee_bias_reduced``); the
report shows them under the names defined here, so that a name reads the same in every section.
"""

from __future__ import annotations

from typing import Any

from pilottrial.report.format import text_or_missing

__all__ = [
    "STRUCTURE_NAMES",
    "ANALYSIS_LABELS",
    "P_ONLY_ANALYSES",
    "structure_name",
    "analysis_label",
    "join_words",
    "with_article",
]

#: Names of the covariance structures (``analysis.covariance`` and ``analysis.fallback`` codes).
STRUCTURE_NAMES = {
    "us": "unstructured", "cs": "compound-symmetry", "csh": "heterogeneous compound-symmetry",
    "ar1": "first-order autoregressive", "ar1h": "heterogeneous first-order autoregressive",
    "toep": "Toeplitz", "toeph": "heterogeneous Toeplitz", "ad": "first-order ante-dependence",
    "adh": "heterogeneous first-order ante-dependence",
}

#: Reader-facing names of the ``analysis`` values of sensitivity.csv and multiple_imputation.csv.
ANALYSIS_LABELS = {
    "ancova_complete_case": "ANCOVA, complete cases at the visit",
    "mixed_anova_complete_case": "Mixed ANOVA, complete cases (Welch t at the visit)",
    "gee_bias_reduced": "GEE, exchangeable, Mancl-DeRouen bias-reduced SE",
    "randomization_test": "Randomization test of the MMRM t (p-value only)",
    "mann_whitney": "Hodges-Lehmann shift with Mann-Whitney test (no model)",
    "lmm_random_intercept": "LMM with random participant intercept",
    "mi_mar": "Multiple imputation under MAR",
    "mi_j2r": "Multiple imputation, jump to reference",
    "mi_cir": "Multiple imputation, copy increments in reference",
    "mi_cr": "Multiple imputation, copy reference",
}

#: Sensitivity analyses that give a p-value and no interval of their own.
P_ONLY_ANALYSES = frozenset({"randomization_test"})


def structure_name(code: Any) -> str:
    """The name of a covariance structure code (``"toeph"`` -> ``"heterogeneous Toeplitz"``)."""
    return STRUCTURE_NAMES.get(str(code), text_or_missing(code))


def analysis_label(analysis: str) -> str:
    """The name of a sensitivity or imputation analysis (``"mmrm_cs"`` -> ``"MMRM, compound-symmetry
    covariance"``); unknown codes are shown with spaces for underscores."""
    if analysis in ANALYSIS_LABELS:
        return ANALYSIS_LABELS[analysis]
    if analysis.startswith("mmrm_"):
        return f"MMRM, {structure_name(analysis[5:])} covariance"
    return analysis.replace("_", " ")


def join_words(items: list[str], word: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def with_article(word: str) -> str:
    """``"unstructured"`` -> ``"an unstructured"``."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word
