"""The rows and the formula of one outcome's model (MMRM and LMM alike).

The response is the change from baseline (``change ~ baseline + arm * visit``) or, with
``analysis.response: raw``, the score (``score ~ arm * visit``); covariates and strata of the
config enter after the baseline, non-numeric ones and every stratum as factors. With
``analysis.baseline_by_visit: true`` the baseline slope differs by visit
(``change ~ baseline * visit + arm * visit``).
"""

from __future__ import annotations

import pandas as pd

from pilottrial.config.trial import Trial
from pilottrial.data.table import model_covariates

__all__ = ["model_frame", "model_formula", "FORMULA", "FORMULA_BASELINE_BY_VISIT"]

#: The primary model's formula without covariates.
FORMULA = "change ~ baseline + arm * visit"
#: The primary model's formula with ``analysis.baseline_by_visit: true``, without covariates.
FORMULA_BASELINE_BY_VISIT = "change ~ baseline * visit + arm * visit"


def model_frame(analysis: pd.DataFrame, outcome: str, config: dict) -> pd.DataFrame:
    """Rows of one outcome entering its model, with ``arm`` and ``visit`` as Categoricals whose
    first level is the reference arm and the first visit with data. Change analysis: the
    post-baseline visits, missing changes dropped; raw analysis (``analysis.response: raw``):
    every visit with a score. ``arm`` has every arm of the trial (three or more arms: all of them,
    in one model). Rows missing a covariate are dropped. Strata
    (``analysis.strata``) are labels: text, so that a factor they are even when coded 1, 2, 3."""
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
    for stratum in (config.get("analysis", {}) or {}).get("strata", []) or []:
        if pd.api.types.is_numeric_dtype(frame[stratum]):
            frame[stratum] = frame[stratum].map(_stratum_text).astype(object)
    return frame


def _stratum_text(value) -> str:
    """A stratum code as a CSV shows it: ``2.0`` -> ``"2"``."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def model_formula(frame: pd.DataFrame, config: dict | None = None) -> str:
    r"""The formula of one outcome's model.

    ``change ~ baseline + <covariates> + arm * visit``, or with ``analysis.baseline_by_visit:
    true`` ``change ~ baseline * visit + <covariates> + arm * visit`` (a baseline slope per visit,
    the model of SAS's and R rbmi's published MMRM analyses; Mallinckrodt et al. 2008);
    ``score ~ <covariates> + arm * visit`` when ``analysis.response`` is raw. ``arm`` (and one
    baseline slope) alone for an outcome measured at a single post-baseline visit (e.g. imaging
    at 30 days only).

    Notes
    -----
    With the interaction, :math:`\text{change}_{ij} = \alpha_j + \beta_j\,\text{baseline}_i +
    \tau_j[\text{arm}_i = T] + \varepsilon_{ij}` (visit-specific intercepts :math:`\alpha_j`,
    slopes :math:`\beta_j` and treatment effects :math:`\tau_j`); the treatment contrast at
    visit *j* is :math:`\tau_j` either way. With *k* arms ``arm`` has *k* levels (the reference
    first, :attr:`pilottrial.config.Trial.arms`) and the model :math:`k - 1` effects
    :math:`\tau_{aj}` per visit, one per treatment arm *a*; a comparison of two treatment arms is
    :math:`\tau_{bj} - \tau_{aj}`.

    References
    ----------
    Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP (2008). Recommendations for the
    primary analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J
    42:303-319.

    Examples
    --------
    >>> frame = pd.DataFrame({"visit": pd.Categorical(["week4", "week8"])})
    >>> model_formula(frame, {"analysis": {"baseline_by_visit": True, "covariates": ["age"]}})
    'change ~ baseline * visit + age + arm * visit'
    """
    config = config or {}
    raw = Trial.from_config(config).response == "raw"
    several = len(frame["visit"].cat.categories) > 1
    by_visit = several and bool((config.get("analysis", {}) or {}).get("baseline_by_visit", False))
    terms = [] if raw else ["baseline * visit" if by_visit else "baseline"]
    terms += model_covariates(config)  # non-numeric columns enter as factors
    terms.append("arm * visit" if several else "arm")
    return f"{'score' if raw else 'change'} ~ " + " + ".join(terms)
