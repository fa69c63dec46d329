r"""Analysis of multiply imputed data: ANCOVA of each completed data set, Rubin's rules, tipping point.

:func:`mi_ancova` analyses each completed data set by ANCOVA at one visit and pools with
Rubin's rules (:func:`rubin_rules`, Barnard-Rubin df); :func:`delta_adjusted_ancova` repeats
it over a grid of deltas added to the treatment arm's imputed values. The table builders
:func:`mi_contrasts` (every efficacy outcome x key visit x imputation method) and
:func:`tipping_point` (the MAR analysis at the last key visit over the config's delta grid)
read their settings from the config.

Three or more arms
    One imputation of all arms per outcome and method (every treatment arm imputed towards the
    reference arm by J2R, CIR and CR), analysed by the ANCOVA with all arms (``change ~
    baseline + arm``, k-level ``arm``): each comparison's contrast is one row, with a last
    column ``treatment`` (``Comparison.name``), comparisons in ``Trial.comparisons`` order. The
    tipping point of a comparison shifts the imputed values of its treatment arm only.

Nothing here raises for a numerical reason in the table builders: an outcome whose imputation
model does not fit, a method whose draws fail, a visit whose ANCOVA has no residual degrees of
freedom give rows of NaN whose note says "not estimable: <reason>"
(:func:`pilottrial.analyses.common.not_estimable`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.analyses.common import as_trial, not_estimable, with_note
from pilottrial.analyses.missing.imputation import METHODS, CompletedData, fit_imputation_model, impute_arrays
from pilottrial.models.frame import model_frame
from pilottrial.models.mmrm import MMRMError
from pilottrial.models.primary import CONTRAST_COLUMNS

__all__ = ["MI_CONTRAST_COLUMNS", "RUBIN_COLUMNS", "TIPPING_COLUMNS", "FAILURES", "ancova_arrays",
           "ancova_contrast_arrays", "rubin_rules", "mi_ancova", "delta_adjusted_ancova", "mi_contrasts",
           "tipping_point"]

MI_CONTRAST_COLUMNS = CONTRAST_COLUMNS + ["analysis", "imputations", "fraction_missing_info"]
RUBIN_COLUMNS = ["estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value", "within_variance",
                 "between_variance", "total_variance", "fraction_missing_info", "imputations"]
TIPPING_COLUMNS = ["outcome", "visit", "delta", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                   "p_value", "significant", "favours_treatment", "conclusion", "tipping_delta", "note"]
#: Numerical failures of an imputation model, its draws or the ANCOVA of the completed data:
#: rows of NaN with the reason, never a crash.
FAILURES = (MMRMError, np.linalg.LinAlgError, ValueError)


def ancova_arrays(change: np.ndarray, baseline: np.ndarray, treated: np.ndarray):
    r"""OLS ANCOVA ``change ~ baseline + arm`` of many completed data sets at once.

    Parameters
    ----------
    change : (..., N) completed changes at one visit.
    baseline, treated : (N,) baseline scores and treatment indicator.

    Returns
    -------
    ``(estimate, variance, df)``: treatment coefficient and its variance
    :math:`s^2 [(X'X)^{-1}]_{aa}`, each of shape (...), and the residual df :math:`N - 3`.

    Raises
    ------
    ValueError
        Fewer than 4 participants (no residual degrees of freedom).
    numpy.linalg.LinAlgError
        A singular design (e.g. the same baseline for everyone).

    Notes
    -----
    With :math:`X = [1, \mathrm{baseline}, \mathrm{treated}]` the same for every data set,
    :math:`\hat\beta = (X'X)^{-1}X'y` and :math:`s^2 = \lVert y - X\hat\beta\rVert^2/(N - 3)`,
    computed for all data sets at once (one hat matrix).

    References
    ----------
    Vickers AJ, Altman DG (2001). Analysing controlled trials with baseline and follow up
    measurements. BMJ 323:1123-1124.

    Examples
    --------
    >>> import numpy as np
    >>> change = np.array([[-4, -6, -2, -7, -10, -12, -8, -14], [-4, -6, -2, -7, -10, -12, -8, -15]], float)
    >>> baseline = np.array([30, 34, 28, 40, 32, 36, 29, 38], float)
    >>> estimate, variance, df = ancova_arrays(change, baseline, np.repeat([False, True], 4))
    >>> estimate.round(3), variance.round(3), df
    (array([-5.888, -6.114]), array([0.393, 0.647]), 5)
    """
    X = np.column_stack([np.ones_like(baseline), baseline, treated.astype(float)])
    if X.shape[0] <= X.shape[1]:
        raise ValueError(f"{X.shape[0]} participants leave no residual degrees of freedom for the ANCOVA "
                         f"change ~ baseline + arm")
    xtx_inv = np.linalg.inv(X.T @ X)
    hat = xtx_inv @ X.T  # (3, N)
    coef = change @ hat.T  # (..., 3)
    resid = change - coef @ X.T
    df = X.shape[0] - X.shape[1]
    s2 = np.sum(resid ** 2, axis=-1) / df
    return coef[..., 2], s2 * xtx_inv[2, 2], df


def ancova_contrast_arrays(change: np.ndarray, baseline: np.ndarray, arm: np.ndarray, arms, treatment: str,
                           reference: str | None = None):
    r"""OLS ANCOVA ``change ~ baseline + arm`` with k arms, one contrast, for many completed data sets.

    Parameters
    ----------
    change : (..., N) completed changes at one visit.
    baseline : (N,) baseline scores.
    arm : (N,) arm labels.
    arms : sequence of str
        The k arms, the model's reference level first (its dummy is left out).
    treatment, reference : str
        The contrast ``treatment - reference`` (default reference ``arms[0]``).

    Returns
    -------
    ``(estimate, variance, df)``: :math:`c'\hat\beta` and :math:`s^2 c'(X'X)^{-1}c`, each of
    shape (...), and the residual df :math:`N - k - 1`.

    Notes
    -----
    :math:`X = [1, \mathrm{baseline}, d_2, \dots, d_k]` with :math:`d_a` the indicator of arm
    :math:`a`; :math:`c` has +1 at the treatment's dummy and -1 at the reference's (none for
    ``arms[0]``). With two arms this is :func:`ancova_arrays`. The residual variance is pooled
    over all k arms, as in the primary model of all arms.

    Examples
    --------
    >>> import numpy as np
    >>> change = np.array([-4, -6, -2, -7, -10, -12, -8, -14, -9, -11, -15, -12], float)
    >>> baseline = np.array([30, 34, 28, 40, 32, 36, 29, 38, 31, 35, 37, 30], float)
    >>> arm = np.repeat(["placebo", "low", "high"], 4)
    >>> estimate, variance, df = ancova_contrast_arrays(change, baseline, arm, ["placebo", "low", "high"], "high")
    >>> round(float(estimate), 3), df
    (-6.879, 8)
    """
    arms = [str(a) for a in arms]
    arm = np.asarray(arm).astype(str)
    reference = arms[0] if reference is None else str(reference)
    X = np.column_stack([np.ones_like(baseline), baseline] + [(arm == a).astype(float) for a in arms[1:]])
    if X.shape[0] <= X.shape[1]:
        raise ValueError(f"{X.shape[0]} participants leave no residual degrees of freedom for the ANCOVA "
                         f"change ~ baseline + arm ({len(arms)} arms)")
    c = np.zeros(X.shape[1])
    for label, sign in ((treatment, 1.0), (reference, -1.0)):
        if str(label) != arms[0]:
            c[2 + arms.index(str(label)) - 1] += sign
    xtx_inv = np.linalg.inv(X.T @ X)
    coef = change @ (xtx_inv @ X.T).T  # (..., p)
    resid = change - coef @ X.T
    df = X.shape[0] - X.shape[1]
    s2 = np.sum(resid ** 2, axis=-1) / df
    return coef @ c, s2 * float(c @ xtx_inv @ c), df


def rubin_rules(estimates, variances, df_complete: float, alpha: float = 0.05) -> pd.DataFrame:
    r"""Pool ``M`` completed-data estimates with Rubin's rules and Barnard-Rubin df.

    Parameters
    ----------
    estimates, variances : (M,) or (K, M) arrays: point estimates :math:`\hat Q_m` and their
        variances :math:`U_m`, imputations along the last axis (K independent quantities).
    df_complete : :math:`\nu_{com}`, the complete-data residual df.
    alpha : 1 - confidence level.

    Returns
    -------
    DataFrame with :data:`RUBIN_COLUMNS`, one row per quantity.

    Notes
    -----
    .. math::

        \bar Q = \frac1M\sum_m \hat Q_m,\quad \bar U = \frac1M\sum_m U_m,\quad
        B = \frac{1}{M-1}\sum_m (\hat Q_m - \bar Q)^2,\quad T = \bar U + (1 + M^{-1})B,

    :math:`\lambda = (1 + M^{-1})B/T` (reported as ``fraction_missing_info``, Rubin's
    large-sample fraction of missing information), and (Barnard & Rubin 1999)

    .. math::

        \nu_{old} = \frac{M-1}{\lambda^2},\quad
        \nu_{obs} = \frac{\nu_{com}+1}{\nu_{com}+3}\,\nu_{com}(1-\lambda),\quad
        \nu = \left(\nu_{old}^{-1} + \nu_{obs}^{-1}\right)^{-1}.

    The interval is :math:`\bar Q \pm t_{\nu,1-\alpha/2}\sqrt T`. When :math:`B = 0` (nothing
    imputed, every completed data set the same) the result is the complete-data analysis and
    :math:`\nu = \nu_{com}` (the formula would give :math:`\nu_{com}(\nu_{com}+1)/(\nu_{com}+3)`).

    References
    ----------
    Rubin DB (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
    Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation.
    Biometrika 86(4):948-955.

    Examples
    --------
    >>> pooled = rubin_rules([1.0, 1.5, 2.0], [0.5, 0.6, 0.7], df_complete=20)
    >>> pooled[["estimate", "std_error", "df", "fraction_missing_info"]].round(4)
       estimate  std_error      df  fraction_missing_info
    0       1.5     0.9661  6.7132                 0.3571
    """
    q = np.atleast_2d(np.asarray(estimates, dtype=float))
    u = np.atleast_2d(np.asarray(variances, dtype=float))
    M = q.shape[-1]
    q_bar = q.mean(axis=-1)
    u_bar = u.mean(axis=-1)
    spread = q - q_bar[:, None]
    # exactly equal estimates give B = 0 (the mean of identical floats may differ in the last bit)
    same = np.all(q == q[:, :1], axis=-1)
    B = np.where(same, 0.0, np.sum(spread ** 2, axis=-1) / max(M - 1, 1)) if M > 1 else np.zeros_like(q_bar)
    total = u_bar + (1.0 + 1.0 / M) * B
    lam = np.divide((1.0 + 1.0 / M) * B, total, out=np.zeros_like(total), where=total > 0)
    nu_com = float(df_complete)
    nu_obs = (nu_com + 1.0) / (nu_com + 3.0) * nu_com * (1.0 - lam)
    with np.errstate(divide="ignore"):
        inv_old = np.where(lam > 0, lam ** 2 / max(M - 1, 1), 0.0)
    df = np.where(lam > 0, 1.0 / (inv_old + 1.0 / np.where(lam < 1, nu_obs, np.inf)), nu_com)
    se = np.sqrt(total)
    half = stats.t.ppf(1.0 - alpha / 2.0, df) * se
    t_value = np.divide(q_bar, se, out=np.zeros_like(se), where=se > 0)
    return pd.DataFrame({
        "estimate": q_bar, "std_error": se, "df": df, "ci_lower": q_bar - half, "ci_upper": q_bar + half,
        "p_value": 2.0 * stats.t.sf(np.abs(t_value), df), "within_variance": u_bar, "between_variance": B,
        "total_variance": total, "fraction_missing_info": lam, "imputations": M,
    })[RUBIN_COLUMNS]



def mi_ancova(completed: CompletedData, visit: str, alpha: float = 0.05, comparison=None) -> pd.DataFrame:
    r"""ANCOVA of every completed data set at one visit, pooled by Rubin's rules.

    Parameters
    ----------
    completed : CompletedData
        The imputations of one outcome (:func:`pilottrial.analyses.missing.impute_arrays`).
    visit : str
        A visit of ``completed.visits``.
    alpha : float, default 0.05
        Intervals are 100(1 - alpha)%.
    comparison : Comparison, optional
        With three or more arms, the contrast to pool (``treatment`` minus ``reference``); the
        ANCOVA has every arm (:func:`ancova_contrast_arrays`). Required then; ignored with two.

    Returns
    -------
    pandas.DataFrame
        One row with :data:`RUBIN_COLUMNS`: the treatment minus reference difference in mean
        change adjusted for baseline.

    Notes
    -----
    Each completed data set :math:`m` gives the OLS estimate :math:`\hat Q_m` and variance
    :math:`U_m` of ``change ~ baseline + arm`` over all randomized participants
    (:func:`ancova_arrays`, complete-data df :math:`N - 3`), pooled by :func:`rubin_rules`.

    References
    ----------
    Rubin DB (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.

    Examples
    --------
    >>> from pilottrial.analyses.missing import impute_arrays
    >>> from pilottrial.analyses.common import example_frame
    >>> data = example_frame(missing=True)
    >>> completed = impute_arrays(data, "placebo", "drug", ["week4", "week8"], n_imputations=20, seed=1)
    >>> mi_ancova(completed, "week8")[["estimate", "std_error", "df"]].round(2)
       estimate  std_error    df
    0     -7.44       4.22  3.36
    """
    j = completed.visits.index(visit)
    q, u, df = _ancova(completed, completed.values[:, :, j], comparison)
    return rubin_rules(q, u, df, alpha)


def _multi_arm(completed: CompletedData) -> bool:
    return len(completed.arms) > 2


def _ancova(completed: CompletedData, change: np.ndarray, comparison):
    """The two-arm ANCOVA of :func:`ancova_arrays`, or with three or more arms the contrast of
    ``comparison`` in the ANCOVA of all arms."""
    if not _multi_arm(completed):
        return ancova_arrays(change, completed.baseline, completed.treated)
    if comparison is None:
        raise ValueError(f"{completed.outcome}: {len(completed.arms)} arms; pass the comparison to analyse")
    return ancova_contrast_arrays(change, completed.baseline, completed.arm, completed.arms,
                                  comparison.treatment, comparison.reference)


def _conclusion(significant: np.ndarray, favours: np.ndarray) -> np.ndarray:
    return np.where(significant, np.where(favours, "significant benefit", "significant harm"), "not significant")


#: Completed values per block of deltas in :func:`delta_adjusted_ancova` (bounds its memory).
TIPPING_BLOCK = 1_000_000


def delta_adjusted_ancova(completed: CompletedData, visit: str, deltas, alpha: float = 0.05,
                          comparison=None) -> pd.DataFrame:
    r"""Delta-adjusted MI analysis at one visit over a grid of deltas: the tipping point.

    Parameters
    ----------
    completed : CompletedData
        The MAR imputations of one outcome (``delta`` 0;
        :func:`pilottrial.analyses.missing.impute_arrays`).
    visit : str
        A visit of ``completed.visits``.
    deltas : array_like
        Shifts :math:`\delta \ge 0` (points), in increasing order, the first usually 0.
    alpha : float, default 0.05
        Intervals are 100(1 - alpha)%.
    comparison : Comparison, optional
        With three or more arms (required then): the contrast analysed, and its treatment arm is
        the one whose imputed values are shifted (:func:`mi_ancova` of all arms).

    Returns
    -------
    pandas.DataFrame
        :data:`TIPPING_COLUMNS`, one row per delta: ``estimate, std_error, df, ci_lower,
        ci_upper, p_value`` (Rubin's rules), ``significant`` (the CI excludes 0),
        ``favours_treatment`` (the estimate is in the direction of benefit), ``conclusion``
        (``"significant benefit"``, ``"not significant"`` or ``"significant harm"``), and,
        repeated on every row, ``tipping_delta``: the smallest delta whose conclusion differs
        from that at the first delta (NaN if none in the grid, with the reason in ``note``).

    Notes
    -----
    Every imputed value of the treatment arm at ``visit`` is shifted by :math:`\delta` in the
    unfavourable direction (``+delta`` when lower is better), then analysed by
    :func:`mi_ancova`. The shift is applied after imputation, so the same draws serve every
    delta: the estimate is linear in :math:`\delta` and the between-imputation variance does
    not change with it.

    References
    ----------
    Ratitch B, O'Kelly M, Tosiello R (2013). Missing data in clinical trials: from clinical
    assumptions to statistical analysis using pattern mixture models. Pharm Stat 12:337-347.

    Examples
    --------
    >>> from pilottrial.analyses.missing import impute_arrays
    >>> from pilottrial.analyses.common import example_frame
    >>> data = example_frame(missing=True)
    >>> completed = impute_arrays(data, "placebo", "drug", ["week4", "week8"], n_imputations=20, seed=1)
    >>> table = delta_adjusted_ancova(completed, "week8", [0.0, 5.0, 10.0])
    >>> table[["delta", "estimate", "conclusion"]].round(2)
       delta  estimate       conclusion
    0    0.0     -7.44  not significant
    1    5.0     -7.20  not significant
    2   10.0     -6.96  not significant
    """
    deltas = np.asarray(deltas, dtype=float)
    j = completed.visits.index(visit)
    direction = completed.unfavourable_sign
    shifted = completed.treated if not _multi_arm(completed) or comparison is None else \
        completed.arm == str(comparison.treatment)
    shift = direction * (shifted & ~completed.observed[:, j]).astype(float)  # (N,)
    # the deltas in blocks of about a million completed values (deltas x imputations x
    # participants): a large trial does not hold every shifted data set at once
    base = completed.values[:, :, j]  # (M, N)
    block = max(1, TIPPING_BLOCK // max(base.size, 1))
    parts = [_ancova(completed, base[None] + deltas[a:a + block, None, None] * shift[None, None, :], comparison)
             for a in range(0, deltas.size, block)]
    q, u = np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])
    df = parts[0][2]
    pooled = rubin_rules(q, u, df, alpha)
    significant = (pooled["ci_lower"] > 0) | (pooled["ci_upper"] < 0)
    favours = pooled["estimate"] * direction < 0
    conclusion = _conclusion(significant.to_numpy(), favours.to_numpy()).astype(object)
    changed = np.flatnonzero(conclusion != conclusion[0])
    if not shift.any():
        which = "the treatment arm" if not _multi_arm(completed) else f"the {comparison.treatment} arm"
        tipping, note = np.nan, not_estimable(f"no tipping point: no imputed value in {which} at "
                                              f"{visit}, so delta has no effect")
    elif changed.size:
        tipping = float(deltas[changed[0]])
        note = f"conclusion changes from '{conclusion[0]}' to '{conclusion[changed[0]]}' at delta = {tipping:g}"
    else:
        tipping, note = np.nan, f"conclusion '{conclusion[0]}' unchanged up to delta = {deltas[-1]:g}"
    return pooled.assign(outcome=completed.outcome, visit=visit, delta=deltas, significant=significant,
                         favours_treatment=favours, conclusion=conclusion, tipping_delta=tipping,
                         note=note)[TIPPING_COLUMNS]


# ---- table builders ---------------------------------------------------------------------------
def _imputation_setup(analysis: pd.DataFrame, outcome, trial) -> tuple:
    """(rows of the outcome, key visits to report, keyword arguments of impute_arrays with the
    imputation model fitted to its model frame, reason): ``reason`` (str) says why the outcome
    cannot be imputed (no post-baseline score, a model that does not fit), and the options are
    then None."""
    settings = trial.section("analysis")
    rows = analysis[analysis["outcome"] == outcome.name]
    frame = model_frame(analysis, outcome.name, trial.config)
    if frame.empty:
        return rows, list(trial.key_visits), None, f"{outcome.name} has no post-baseline score"
    try:
        fit = fit_imputation_model(frame, covariance=settings["covariance"], fallback=settings.get("fallback"))
    except FAILURES as exc:
        measured = [str(v) for v in frame["visit"].cat.categories]
        return (rows, [v for v in trial.key_visits if v in measured], None,
                f"the imputation model of {outcome.name} does not fit ({exc})")
    modelled = [str(v) for v in fit.visits]
    options = {"better": outcome.better, "fit": fit, "outcome": outcome.name}
    return rows, [v for v in trial.key_visits if v in modelled], options, None


def _failed(columns: list, reason: str, **values) -> pd.DataFrame:
    """One row of ``columns``: ``values`` where given, NaN elsewhere, ``note`` "not estimable: <reason>"."""
    row = {c: np.nan for c in columns} | values | {"note": not_estimable(reason)}
    return pd.DataFrame([row])


def mi_contrasts(analysis: pd.DataFrame, config, methods=METHODS, n_imputations: int | None = None,
                 seed: int | None = None, log=None) -> pd.DataFrame:
    r"""Treatment contrasts at the key visits by multiple imputation, one row per method.

    For each efficacy outcome (``role: efficacy``) and method, ``M`` completed data sets are
    drawn by :func:`~pilottrial.analyses.missing.impute_arrays` from the imputation model of
    its model frame (:func:`pilottrial.models.primary.model_frame`; ``analysis.covariance``
    with ``analysis.fallback``); at each key visit (``visits.key``, those at which the outcome
    was measured) they are analysed by :func:`mi_ancova` (``analysis.alpha``).

    Parameters
    ----------
    analysis : pandas.DataFrame
        The tidy analysis table.
    config : dict or Trial
        The validated config.
    methods : sequence of str
        Imputation methods, from :data:`~pilottrial.analyses.missing.METHODS`.
    n_imputations, seed : int, optional
        Default ``analysis.imputations`` and ``analysis.seed``.
    log : callable, optional
        Called with a line of progress after each outcome x method.

    Returns
    -------
    pandas.DataFrame
        :data:`MI_CONTRAST_COLUMNS`: :data:`~pilottrial.models.primary.CONTRAST_COLUMNS`
        (``model`` = ``"ancova"``) plus ``analysis`` (``"mi_" + method``), ``imputations`` and
        ``fraction_missing_info``; sorted by outcome (config order), key visit, method.
        What cannot be estimated -- an outcome without post-baseline scores (rows at every
        key visit), an imputation model that does not fit, draws that fail (e.g. too few
        participants for the covariance draw), an ANCOVA without residual degrees of
        freedom -- has rows of NaN, and a ``note`` column, added last when there are such
        rows, says "not estimable: <reason>". Three or more arms: all arms are imputed
        together, and each comparison's contrast (:func:`mi_ancova` of all arms) is a row; the
        rows of a comparison are together (``Trial.comparisons`` order, inside that the order
        above) and the table ends with ``treatment`` (``Comparison.name``).
    """
    trial = as_trial(config)
    settings = trial.section("analysis")
    alpha = settings["alpha"]
    M = int(settings["imputations"] if n_imputations is None else n_imputations)
    seed = int(settings["seed"] if seed is None else seed)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown imputation method(s) {unknown}; use {list(METHODS)}")
    rows = []
    comparisons = _comparisons(trial)
    for outcome in trial.efficacy_outcomes:
        data, key_visits, options, reason = _imputation_setup(analysis, outcome, trial)
        base = {"outcome": outcome.name, "model": "ancova", "imputations": M}
        for method in methods:
            failure = reason
            if failure is None:
                try:
                    completed = impute_arrays(data, trial.reference, _treatments(trial), trial.post_baseline,
                                              method=method, n_imputations=M, seed=seed, **options)
                except FAILURES as exc:
                    failure = f"imputation under {method.upper()} failed ({exc})"
            for visit in key_visits:
                for rank, comparison in enumerate(comparisons):
                    where = base | {"visit": visit, "analysis": f"mi_{method}"} | _tag(comparison, rank)
                    if failure is not None:
                        rows.append(_failed(MI_CONTRAST_COLUMNS, failure, **where))
                        continue
                    try:
                        pooled = mi_ancova(completed, visit, alpha, comparison)
                    except FAILURES as exc:
                        rows.append(_failed(MI_CONTRAST_COLUMNS, f"ANCOVA of the completed data at {visit} ({exc})",
                                            **where))
                        continue
                    rows.append(pooled.assign(outcome=outcome.name, model="ancova", visit=visit,
                                              analysis=f"mi_{method}", note="", **_tag(comparison, rank)))
            if log is not None:
                log(f"multiple imputation: {outcome.name}, {method}: "
                    + (not_estimable(failure) if failure else f"{M} imputations"))
    if not rows:
        return pd.DataFrame(columns=MI_CONTRAST_COLUMNS + (["treatment"] if trial.is_multi_arm else []))
    table = pd.concat(rows, ignore_index=True)
    outcome_rank = {o: k for k, o in enumerate(trial.outcome_names)}
    visit_rank = {v: k for k, v in enumerate(trial.key_visits)}
    method_rank = {f"mi_{m}": k for k, m in enumerate(methods)}
    keys = [table["analysis"].map(method_rank), table["visit"].map(visit_rank), table["outcome"].map(outcome_rank)]
    order = np.lexsort(keys + ([table["_comparison"]] if trial.is_multi_arm else []))
    table = table.iloc[order].reset_index(drop=True)
    return _with_treatment(with_note(table[MI_CONTRAST_COLUMNS].astype({"imputations": int}), table["note"]),
                           table, trial)


def _comparisons(trial) -> tuple:
    """The comparisons of a trial with three or more arms; ``(None,)`` for two arms (one contrast,
    no ``treatment`` column)."""
    return trial.comparisons if trial.is_multi_arm else (None,)


def _treatments(trial):
    """The treatment arm (two arms) or the list of them (three or more) for :func:`impute_arrays`."""
    return list(trial.treatments) if trial.is_multi_arm else trial.treatment


def _tag(comparison, rank: int) -> dict:
    """The comparison's columns of a row (none for a two-arm trial)."""
    return {} if comparison is None else {"treatment": comparison.name, "_comparison": rank}


def _with_treatment(table: pd.DataFrame, rows: pd.DataFrame, trial) -> pd.DataFrame:
    """``table`` with the last column ``treatment`` of ``rows`` (three or more arms only)."""
    return table.assign(treatment=rows["treatment"].to_numpy()) if trial.is_multi_arm else table


def tipping_point(analysis: pd.DataFrame, config, n_imputations: int | None = None,
                  seed: int | None = None) -> pd.DataFrame:
    r"""Delta-adjusted MAR imputation over a grid of deltas at the last key visit.

    For each efficacy outcome, the MAR imputations of
    :func:`~pilottrial.analyses.missing.impute_arrays` (the same draws as ``mi_mar`` in
    :func:`mi_contrasts`) are analysed by :func:`delta_adjusted_ancova` at the last key
    visit the outcome was measured at, for :math:`\delta = 0, s, 2s, \dots \le \delta_{max}`
    (``analysis.tipping_delta_step``, ``analysis.tipping_delta_max``).

    Parameters
    ----------
    analysis : pandas.DataFrame
        The tidy analysis table.
    config : dict or Trial
        The validated config.
    n_imputations, seed : int, optional
        Default ``analysis.imputations`` and ``analysis.seed``.

    Returns
    -------
    pandas.DataFrame
        :data:`TIPPING_COLUMNS`, one row per outcome x delta (see
        :func:`delta_adjusted_ancova`). An outcome that cannot be analysed (no
        post-baseline score, an imputation model that does not fit, failed draws) has one
        row per delta with NaN numbers (``visit`` the last key visit, empty without one) and
        ``note`` "not estimable: <reason>"; so has an outcome with no missing value in the
        treatment arm at the visit, whose numbers are kept (every delta gives the same
        analysis) but which has no tipping point. Three or more arms: one block of rows per
        comparison (``Trial.comparisons`` order) from the same MAR imputations of all arms,
        each shifting only the imputed values of its own treatment arm
        (:func:`delta_adjusted_ancova` with ``comparison``), the table ending with ``treatment``.
    """
    trial = as_trial(config)
    settings = trial.section("analysis")
    alpha = settings["alpha"]
    M = int(settings["imputations"] if n_imputations is None else n_imputations)
    seed = int(settings["seed"] if seed is None else seed)
    step, top = float(settings["tipping_delta_step"]), float(settings["tipping_delta_max"])
    deltas = np.round(step * np.arange(int(np.floor(top / step + 1e-9)) + 1), 10)
    comparisons = _comparisons(trial)
    blocks = {rank: [] for rank in range(len(comparisons))}
    for outcome in trial.efficacy_outcomes:
        data, measured, options, failure = _imputation_setup(analysis, outcome, trial)
        if not measured:
            continue
        if failure is None:
            try:
                completed = impute_arrays(data, trial.reference, _treatments(trial), trial.post_baseline,
                                          method="mar", n_imputations=M, seed=seed, **options)
            except FAILURES as exc:
                failure = f"imputation under MAR failed ({exc})"
        for rank, comparison in enumerate(comparisons):
            reason, tag = failure, {} if comparison is None else {"treatment": comparison.name}
            if reason is None:
                try:
                    blocks[rank].append(delta_adjusted_ancova(completed, measured[-1], deltas, alpha, comparison)
                                        .assign(**tag))
                    continue
                except FAILURES as exc:
                    reason = f"ANCOVA of the completed data at {measured[-1]} ({exc})"
            blocks[rank] += [_failed(TIPPING_COLUMNS, reason, outcome=outcome.name, visit=measured[-1], delta=delta,
                                     conclusion="").assign(**tag) for delta in deltas]
    columns = TIPPING_COLUMNS + (["treatment"] if trial.is_multi_arm else [])
    tables = [table for rank in blocks for table in blocks[rank]]
    if not tables:
        return pd.DataFrame(columns=columns)
    return pd.concat(tables, ignore_index=True)[columns]
