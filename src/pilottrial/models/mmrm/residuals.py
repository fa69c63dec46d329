"""Residuals of a fitted MMRM: raw, Pearson and Cholesky-standardized."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg

__all__ = ["cholesky_residuals"]


def cholesky_residuals(fit) -> pd.DataFrame:
    r"""Raw, Pearson and Cholesky (whitened) residuals of a fitted MMRM.

    Parameters
    ----------
    fit : pilottrial.models.mmrm.MMRMFit
        An ungrouped fit (one visit covariance matrix).

    Returns
    -------
    pandas.DataFrame
        One row per observation of the model frame, sorted by subject then visit:
        ``participant, visit, arm`` (when in the model), ``observed, fitted, residual,
        pearson, standardized``.

    Notes
    -----
    With :math:`r_i = y_i - X_i\hat\beta` the residuals of subject *i* at its observed visits
    and :math:`\hat\Sigma_i` the fitted visit covariance restricted to them,
    :math:`\hat\Sigma_i = L_iL_i'` (Cholesky), the standardized residuals are
    :math:`e_i = L_i^{-1} r_i`. Under the model they are approximately independent standard
    normal, so a normal QQ plot and a plot against the fitted values check normality and the
    variance model. Pearson residuals are :math:`r_{ij}/\hat\sigma_{jj}^{1/2}`.

    References
    ----------
    Houseman EA, Ryan LM, Coull BA. Cholesky residuals for assessing normal errors in a
    linear model with correlated outcomes. J Am Stat Assoc 2004;99:383-394.
    """
    if len(fit.sigmas) != 1:
        raise ValueError("Cholesky residuals of a grouped covariance are not supported")
    frame = fit.model_frame.reset_index(drop=True)
    response, subject, visit = fit.response, fit.subject, fit.visit_name
    X = fit.design(frame)
    y = frame[response].to_numpy(dtype=float)
    fitted = X @ np.asarray(fit.beta, dtype=float)
    resid = y - fitted
    sigma = np.asarray(fit.sigmas[0], dtype=float)
    levels = [str(v) for v in fit.visits]
    code = frame[visit].astype(str).map({v: i for i, v in enumerate(levels)}).to_numpy(dtype=int)
    subjects = frame[subject].astype(str).to_numpy()
    order = np.lexsort((code, subjects))
    standardized = np.empty(len(frame))
    for idx in np.split(order, np.flatnonzero(subjects[order][1:] != subjects[order][:-1]) + 1):
        c = code[idx]
        chol = linalg.cholesky(sigma[np.ix_(c, c)], lower=True)
        standardized[idx] = linalg.solve_triangular(chol, resid[idx], lower=True)
    out = pd.DataFrame({"participant": subjects, "visit": frame[visit].astype(str).to_numpy()})
    if "arm" in frame:
        out["arm"] = frame["arm"].astype(str).to_numpy()
    out["observed"] = y
    out["fitted"] = fitted
    out["residual"] = resid
    out["pearson"] = resid / np.sqrt(np.diag(sigma)[code])
    out["standardized"] = standardized
    return out.iloc[order].reset_index(drop=True)
