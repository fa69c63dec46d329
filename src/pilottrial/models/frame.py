"""The rows and the formula of one outcome's model (MMRM and LMM alike).

The response is the change from baseline (``change ~ baseline + arm * visit``) or, with
``analysis.response: raw``, the score (``score ~ arm * visit``); covariates and strata of the
config enter after the baseline, non-numeric ones as factors.
"""

from __future__ import annotations

import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.data.table import model_covariates

__all__ = ["model_frame", "model_formula", "FORMULA"]

#: The primary model's formula without covariates.
FORMULA = "change ~ baseline + arm * visit"


def model_frame(analysis: pd.DataFrame, outcome: str, config: dict) -> pd.DataFrame:
    """Rows of one outcome entering its model, with ``arm`` and ``visit`` as Categoricals whose
    first level is the reference arm and the first visit with data. Change analysis: the
    post-baseline visits, missing changes dropped; raw analysis (``analysis.response: raw``):
    every visit with a score. Rows missing a covariate are dropped."""
    trial = Trial.from_config(config)
    covariates = model_covariates(config)
    if trial.response == "raw":
        frame = analysis[analysis["outcome"] == outcome].dropna(subset=["score"] + covariates).copy()
        order = list(trial.visit_order)
    else:
        frame = analysis[(analysis["outcome"] == outcome) & (analysis["visit"] != trial.baseline)]
        frame = frame.dropna(subset=["change", "baseline"] + covariates).copy()
        order = list(trial.post_baseline)
    frame["arm"] = pd.Categorical(frame["arm"], list(trial.arms))
    measured = [v for v in order if v in set(frame["visit"])]
    frame["visit"] = pd.Categorical(frame["visit"], measured)
    return frame


def model_formula(frame: pd.DataFrame, config: dict | None = None) -> str:
    """``change ~ baseline + <covariates> + arm * visit`` (``score ~ <covariates> + arm * visit``
    when ``analysis.response`` is raw); ``arm`` alone for an outcome measured at a single
    post-baseline visit (e.g. imaging at 30 days only)."""
    config = config or {}
    raw = Trial.from_config(config).response == "raw"
    terms = [] if raw else ["baseline"]
    terms += model_covariates(config)  # non-numeric columns enter as factors
    terms.append("arm * visit" if len(frame["visit"].cat.categories) > 1 else "arm")
    return f"{'score' if raw else 'change'} ~ " + " + ".join(terms)
