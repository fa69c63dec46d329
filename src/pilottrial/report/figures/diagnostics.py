"""MMRM residual diagnostics: normal QQ plot and residual against fitted (PNG and SVG)."""

from __future__ import annotations

from os import PathLike

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import special

from pilottrial.config.trial import Trial
from pilottrial.models.primary import fit_outcome_mmrm
from pilottrial.report.figures.common import arm_order, visit_order
from pilottrial.report.figures.labels import legend_label
from pilottrial.report.figures.save import save_figure
from pilottrial.report.figures.style import DPI, GREY, OKABE_ITO, arm_colours, theme
from pilottrial.report.format import arm_label

__all__ = ["plot_residuals"]

_STRUCTURES = {"us": "unstructured", "cs": "compound symmetry", "csh": "heterogeneous compound symmetry",
               "ar1": "AR(1)", "ar1h": "heterogeneous AR(1)", "toep": "Toeplitz", "toeph": "heterogeneous Toeplitz",
               "ad": "ante-dependence", "adh": "heterogeneous ante-dependence"}


def plot_residuals(analysis: pd.DataFrame, outcome: str, config: dict, path: str | PathLike) -> pd.DataFrame:
    """MMRM residual diagnostics: normal QQ plot and standardized residual against fitted.

    The MMRM of the outcome is fitted as in the primary analysis
    (:func:`pilottrial.models.primary.fit_outcome_mmrm`) and its Cholesky residuals computed
    (:meth:`pilottrial.models.mmrm.MMRMFit.residuals`). Left: normal QQ plot of the standardized residuals
    (Blom plotting positions, points in the arm's colour) with the identity line. Right:
    standardized residual against the fitted value, marker and colour by visit, with lines
    at 0 and at plus and minus 2.

    Parameters
    ----------
    analysis : pandas.DataFrame
        Tidy analysis table.
    outcome : str
        Outcome name.
    config : dict
        Trial config (``analysis.covariance``, ``fallback``, ``df_method``).
    path : str or path-like
        PNG path; the SVG is written beside it.

    Returns
    -------
    pandas.DataFrame
        :meth:`~pilottrial.models.mmrm.MMRMFit.residuals` of the fit.
    """
    trial = Trial.from_config(config)
    fit = fit_outcome_mmrm(analysis, outcome, config)
    res = fit.residuals()
    arms = arm_order(trial, analysis)
    colours = arm_colours(arms)
    visits = [v for v in visit_order(trial, analysis) if v in set(res["visit"])]
    visits += sorted(set(res["visit"]) - set(visits))
    visit_colours = {v: OKABE_ITO[(2 + i) % len(OKABE_ITO)] for i, v in enumerate(visits)}
    markers = dict(zip(visits, ["o", "s", "^", "D", "v", "P", "X", "<", ">"] * (1 + len(visits) // 9)))
    std = res["standardized"].to_numpy(dtype=float)
    n = len(std)
    rank = np.argsort(np.argsort(std, kind="mergesort"), kind="mergesort")
    theoretical = special.ndtri((rank + 1 - 0.375) / (n + 0.25))  # scipy.stats.norm.ppf
    size = 16 if n <= 2000 else 5  # thousands of points: small markers
    with theme("whitegrid", "report"):
        fig, (qq, rf) = plt.subplots(1, 2, figsize=(8.0, 4.4), dpi=DPI)
        for arm in arms:
            mask = (res["arm"] == arm).to_numpy() if "arm" in res else np.ones(n, dtype=bool)
            if mask.any():
                qq.scatter(theoretical[mask], std[mask], s=size, color=colours[arm], alpha=0.8,
                           edgecolor="white", linewidth=0.4 if n <= 2000 else 0.0,
                           label=legend_label(arm_label(arm), 24), zorder=3)
        lim = float(max(np.abs(theoretical).max(), np.abs(std).max(), 2.5)) * 1.05 if n else 3.0
        qq.plot([-lim, lim], [-lim, lim], color=GREY, linestyle="--", linewidth=1.0, zorder=2)
        qq.set_xlim(-lim, lim)
        qq.set_ylim(-lim, lim)
        qq.set_xlabel("Standard normal quantile")
        qq.set_ylabel("Standardized (Cholesky) residual")
        qq.set_title("Normal QQ plot", fontsize=9.5)
        qq.legend(title="Arm", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=max(len(arms), 1),
                  frameon=False)
        for v in visits:
            mask = (res["visit"] == v).to_numpy()
            rf.scatter(res.loc[mask, "fitted"], std[mask], s=size + 2, color=visit_colours[v], marker=markers[v],
                       alpha=0.85, edgecolor="white", linewidth=0.4 if n <= 2000 else 0.0, label=v, zorder=3)
        rf.axhline(0.0, color="0.25", linewidth=1.0, zorder=1)
        for sign in (-2, 2):
            rf.axhline(sign, color=GREY, linestyle="--", linewidth=0.9, zorder=1)
        rf.set_ylim(-lim, lim)
        response = fit.formula.split("~")[0].strip()
        rf.set_xlabel(f"Fitted {response}")
        rf.set_ylabel("Standardized (Cholesky) residual")
        rf.set_title("Residual against fitted, by visit", fontsize=9.5)
        rf.legend(title="Visit", loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncol=max(min(len(visits), 4 if max((len(v) for v in visits), default=0) > 6 else 6), 1),
                  frameon=False)
        structure = _STRUCTURES.get(fit.structure, fit.structure)
        fig.suptitle(f"{outcome}: MMRM residual diagnostics\n({structure} covariance; "
                     f"{fit.n_obs} observations of {fit.n_subjects} participants)", fontsize=10)
        save_figure(fig, path)
    return res
