r"""Missing data: how much is missing, multiple imputation under MAR and reference-based
assumptions, Rubin's rules, and the delta-adjusted tipping point.

Summaries
    :func:`missingness_table` (by outcome x arm x visit) and :func:`dropout_table` (last
    visit observed, monotone or intermittent, by outcome x arm); :func:`missing_data` stacks
    both in one long table with a ``table`` column (``missing_data.csv``).

Imputation
    :func:`impute` (tidy, long) and :func:`impute_arrays` (arrays) draw ``M`` completed data
    sets of the post-baseline change of one outcome from an MMRM (the primary model with one
    baseline slope per visit, :func:`fit_imputation_model`; unstructured covariance), under

    * ``"mar"`` -- missing at random: each participant's missing visits from the conditional
      normal given their observed visits, with their own arm's means;
    * ``"j2r"`` -- jump to reference, ``"cir"`` -- copy increments in reference, ``"cr"`` --
      copy reference (Carpenter, Roger & Kenward 2013) for treatment-arm participants after
      their last observed visit; the reference arm is imputed under MAR by every method.

    A ``delta`` (points) can be added to the treatment arm's imputed values, in the
    unfavourable direction, for the tipping-point analysis.

Analysis
    :func:`mi_contrasts` analyses each completed data set by ANCOVA at each key visit and
    pools with Rubin's rules (:func:`rubin_rules`, Barnard-Rubin df); :func:`tipping_point`
    repeats the MAR analysis at the last key visit over a grid of deltas.

Random numbers
    Every draw comes from ``numpy.random.SeedSequence(config["analysis"]["seed"])`` with the
    fixed spawn key ``(0x4D49, crc32(outcome), method code, m)`` for imputation ``m``: the
    results do not depend on the order in which outcomes or methods are run, and the first
    ``M'`` imputations are the same whatever ``M >= M'`` is.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from pilottrial.models.primary import CONTRAST_COLUMNS, model_frame
from pilottrial.models.mmrm import fit_mmrm

__all__ = [
    "METHODS",
    "MISSINGNESS_COLUMNS",
    "DROPOUT_COLUMNS",
    "MISSING_DATA_COLUMNS",
    "MI_CONTRAST_COLUMNS",
    "RUBIN_COLUMNS",
    "TIPPING_COLUMNS",
    "missingness_table",
    "dropout_table",
    "missing_data",
    "IMPUTATION_FORMULA",
    "fit_imputation_model",
    "CompletedData",
    "impute_arrays",
    "impute",
    "rubin_rules",
    "ancova_arrays",
    "mi_contrasts",
    "tipping_point",
]

#: Mean model of the imputation MMRM (one baseline slope per visit: congenial with the
#: per-visit ANCOVA that analyses the completed data).
IMPUTATION_FORMULA = "change ~ baseline * visit + arm * visit"
#: Imputation methods, in the order reported.
METHODS = ("mar", "j2r", "cir", "cr")
_METHOD_CODE = {"mar": 1, "j2r": 2, "cir": 3, "cr": 4}
_STREAM = 0x4D49  # "MI": this module's namespace in the config seed's spawn tree

MISSINGNESS_COLUMNS = ["outcome", "arm", "visit", "n_randomized", "n_observed", "n_missing", "pct_missing"]
DROPOUT_COLUMNS = ["outcome", "arm", "visit", "n_randomized", "n_last_observed", "n_monotone",
                   "n_intermittent", "pct_last_observed"]
MISSING_DATA_COLUMNS = ["table", "outcome", "arm", "visit", "n_randomized", "n_observed", "n_missing",
                        "pct_missing", "n_last_observed", "n_monotone", "n_intermittent", "pct_last_observed"]
MI_CONTRAST_COLUMNS = CONTRAST_COLUMNS + ["analysis", "imputations", "fraction_missing_info"]
RUBIN_COLUMNS = ["estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value", "within_variance",
                 "between_variance", "total_variance", "fraction_missing_info", "imputations"]
TIPPING_COLUMNS = ["outcome", "visit", "delta", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                   "p_value", "significant", "favours_treatment", "conclusion", "tipping_delta", "note"]


# ---- summaries ---------------------------------------------------------------------------
def _order(table: pd.DataFrame, config: dict, columns=("outcome", "arm", "visit")) -> pd.DataFrame:
    orders = {"outcome": [o["name"] for o in config["outcomes"]],
              "arm": [config["arms"]["reference"], config["arms"]["treatment"]],
              "visit": list(config["visits"]["order"])}
    keys = [pd.Categorical(table[c], categories=orders[c]).codes for c in columns]
    return table.iloc[np.lexsort(keys[::-1])].reset_index(drop=True)


def _measured_visits(analysis: pd.DataFrame, config: dict) -> pd.DataFrame:
    """(outcome, visit) pairs at which the outcome has at least one score: the visits it is
    scheduled at (an imaging outcome may be measured at baseline and 30d only)."""
    scored = analysis[analysis["score"].notna()][["outcome", "visit"]].drop_duplicates()
    return scored.reset_index(drop=True)


def missingness_table(analysis: pd.DataFrame, config: dict) -> pd.DataFrame:
    r"""Observed and missing scores by outcome x arm x visit.

    Parameters
    ----------
    analysis : the tidy analysis table of :func:`pilottrial.data.ingest.load_trial`.
    config : the validated config.

    Returns
    -------
    DataFrame with :data:`MISSINGNESS_COLUMNS`: ``outcome, arm, visit, n_randomized,
    n_observed, n_missing, pct_missing``, one row per outcome x arm x visit of
    ``visits.order`` (baseline included), sorted in config order.
    ``pct_missing = 100 n_missing / n_randomized``; every randomized participant counts
    (the analysis table has a row for every participant x visit). Visits at which an outcome
    has no score in either arm are taken as not scheduled for it and left out.
    """
    grouped = analysis.groupby(["outcome", "arm", "visit"], observed=True)["score"]
    table = pd.DataFrame({"n_randomized": grouped.size(), "n_observed": grouped.count()}).reset_index()
    table = table.merge(_measured_visits(analysis, config), on=["outcome", "visit"])
    table["n_missing"] = table["n_randomized"] - table["n_observed"]
    table["pct_missing"] = 100.0 * table["n_missing"] / table["n_randomized"]
    for col in ("n_randomized", "n_observed", "n_missing"):
        table[col] = table[col].astype(int)
    return _order(table, config)[MISSINGNESS_COLUMNS]


def _wide_observed(analysis: pd.DataFrame, outcome: str, visits: list) -> pd.DataFrame:
    """participant x visit boolean table of observed changes (columns in ``visits`` order)."""
    rows = analysis[analysis["outcome"] == outcome]
    wide = rows.pivot(index="participant", columns="visit", values="change")
    return wide.reindex(columns=visits).notna()


def dropout_table(analysis: pd.DataFrame, config: dict) -> pd.DataFrame:
    r"""Dropout time (last visit observed) and monotone / intermittent missingness by arm.

    For each participant and outcome the *last observed visit* is the last post-baseline
    visit with a score (``visits.baseline`` if there is none). The pattern is *monotone* if
    the participant was observed at every post-baseline visit up to the last observed one,
    *intermittent* (non-monotone) if at least one earlier visit is missing. Completers are
    the monotone participants whose last observed visit is the final visit. Only the visits
    an outcome is scheduled at count (those with a score for someone): an outcome measured at
    baseline and 30d only has rows for those two.

    Parameters
    ----------
    analysis : the tidy analysis table of :func:`pilottrial.data.ingest.load_trial`.
    config : the validated config.

    Returns
    -------
    DataFrame with :data:`DROPOUT_COLUMNS`: one row per outcome x arm x scheduled visit (the
    last observed visit, baseline included): ``n_randomized`` (arm size), ``n_last_observed``
    (participants whose last observed visit it is), of whom ``n_monotone`` and
    ``n_intermittent``, and ``pct_last_observed = 100 n_last_observed / n_randomized``.
    """
    measured = _measured_visits(analysis, config)
    rows = []
    for outcome in [o["name"] for o in config["outcomes"]]:
        scheduled = set(measured.loc[measured["outcome"] == outcome, "visit"])
        visits = [v for v in config["visits"]["order"] if v in scheduled or v == config["visits"]["baseline"]]
        post = visits[1:]
        wide = _wide_observed(analysis, outcome, post)
        observed = wide.to_numpy()
        arm_of = analysis[analysis["outcome"] == outcome].drop_duplicates("participant").set_index(
            "participant")["arm"]
        arms = arm_of.reindex(wide.index).to_numpy()
        position = np.arange(1, len(post) + 1)
        last = np.max(np.where(observed, position, 0), axis=1)  # 0 = baseline only
        gaps = ((~observed) & (position[None, :] < last[:, None])).any(axis=1)
        for arm in (config["arms"]["reference"], config["arms"]["treatment"]):
            in_arm = arms == arm
            for k, visit in enumerate(visits):
                here = in_arm & (last == k)
                rows.append({"outcome": outcome, "arm": arm, "visit": visit,
                             "n_randomized": int(in_arm.sum()), "n_last_observed": int(here.sum()),
                             "n_monotone": int((here & ~gaps).sum()),
                             "n_intermittent": int((here & gaps).sum())})
    table = pd.DataFrame(rows, columns=DROPOUT_COLUMNS[:-1])
    table["pct_last_observed"] = 100.0 * table["n_last_observed"] / table["n_randomized"]
    return table[DROPOUT_COLUMNS]


def missing_data(analysis: pd.DataFrame, config: dict) -> pd.DataFrame:
    """:func:`missingness_table` and :func:`dropout_table` stacked for ``missing_data.csv``.

    Returns
    -------
    DataFrame with :data:`MISSING_DATA_COLUMNS`; ``table`` is ``"missingness"`` or
    ``"dropout"``, columns that do not apply to a table are empty (counts are nullable
    integers). In the dropout rows ``visit`` is the last observed visit.
    """
    parts = [missingness_table(analysis, config).assign(table="missingness"),
             dropout_table(analysis, config).assign(table="dropout")]
    table = pd.concat(parts, ignore_index=True).reindex(columns=MISSING_DATA_COLUMNS)
    for col in ("n_randomized", "n_observed", "n_missing", "n_last_observed", "n_monotone", "n_intermittent"):
        table[col] = table[col].astype("Int64")
    return table


# ---- imputation ----------------------------------------------------------------------------
@dataclass
class CompletedData:
    """``M`` completed data sets of one outcome's post-baseline change (:func:`impute_arrays`).

    Arrays are indexed ``[imputation, participant, visit]``; participants sorted by label,
    visits in the MMRM's order.
    """

    outcome: str
    method: str
    delta: float
    visits: list
    participants: np.ndarray
    arm: np.ndarray  # labels
    treated: np.ndarray  # bool, treatment arm
    baseline: np.ndarray
    observed: np.ndarray  # (N, T) bool
    values: np.ndarray  # (M, N, T) observed or imputed change, delta included
    conditional_mean: np.ndarray  # (M, N, T) mean of each imputed value given the draw (observed: the value)
    beta: np.ndarray  # (M, p) fixed effects used for each imputation
    sigma: np.ndarray  # (M, T, T) visit covariance used for each imputation
    wishart_df: float
    seed: int
    parameter_draws: bool
    fit: object = field(default=None, repr=False)

    @property
    def n_imputations(self) -> int:
        return int(self.values.shape[0])

    @property
    def imputed(self) -> np.ndarray:
        """(N, T) bool: the cells that were imputed."""
        return ~self.observed

    def to_frame(self) -> pd.DataFrame:
        """Long table ``imputation, participant, arm, visit, baseline, change, imputed``
        (``imputation`` = 1..M), sorted by imputation, participant, visit."""
        M, N, T = self.values.shape
        return pd.DataFrame({
            "imputation": np.repeat(np.arange(1, M + 1), N * T),
            "participant": np.tile(np.repeat(self.participants, T), M),
            "arm": np.tile(np.repeat(self.arm, T), M),
            "visit": np.tile(np.asarray(self.visits, dtype=object), M * N),
            "baseline": np.tile(np.repeat(self.baseline, T), M),
            "change": self.values.reshape(-1),
            "imputed": np.tile(self.imputed.reshape(-1), M),
        })


def fit_imputation_model(analysis: pd.DataFrame, outcome: str, config: dict):
    r"""The MMRM from which missing changes are imputed.

    ``change ~ baseline * visit + arm * visit`` (``change ~ baseline + arm`` for an outcome
    measured at one post-baseline visit) over the post-baseline visits, residual covariance
    ``analysis.covariance`` (unstructured by default, with the config's fallback chain),
    REML, on the observed changes (:func:`pilottrial.models.primary.model_frame`).

    Notes
    -----
    The primary MMRM has one baseline slope for all visits; the imputation model has one per
    visit, as the multivariate normal model of Carpenter, Roger & Kenward (2013), so that it
    is congenial with the ANCOVA at each visit that analyses the completed data: with a
    visit observed for everyone, MI returns that visit's complete-data ANCOVA, and MI under
    MAR reproduces this model's treatment contrasts up to Monte Carlo error.

    Returns
    -------
    :class:`~pilottrial.models.mmrm.MMRMFit`.
    """
    a = config["analysis"]
    frame = model_frame(analysis, outcome, config)
    formula = IMPUTATION_FORMULA if len(frame["visit"].cat.categories) > 1 else "change ~ baseline + arm"
    return fit_mmrm(frame, formula, subject="participant", visit="visit", covariance=a["covariance"],
                    fallback=a.get("fallback"), method="reml", df_method="residual")


@dataclass
class _Prepared:
    """One outcome's fit and arrays, shared by the methods."""

    outcome: str
    fit: object
    visits: list
    participants: np.ndarray
    arm: np.ndarray
    treated: np.ndarray
    baseline: np.ndarray
    y: np.ndarray  # (N, T), NaN where missing
    observed: np.ndarray  # (N, T)
    x_own: np.ndarray  # (N, T, p) design rows, own arm
    x_ref: np.ndarray  # (N, T, p) design rows, reference arm
    last: np.ndarray  # (N,) index of the last observed visit, -1 if none
    patterns: list  # [(observed mask (T,), member indices)]
    better: str


def _outcome_spec(config: dict, outcome: str) -> dict:
    for o in config["outcomes"]:
        if o["name"] == outcome:
            return o
    raise ValueError(f"outcome {outcome!r} is not in the config; outcomes: {[o['name'] for o in config['outcomes']]}")


def _prepare(analysis: pd.DataFrame, outcome: str, config: dict, fit=None) -> _Prepared:
    fit = fit if fit is not None else fit_imputation_model(analysis, outcome, config)
    if len(fit.groups) != 1:
        raise ValueError("imputation needs one visit covariance (an MMRM without group-specific covariances)")
    visits = [str(v) for v in fit.visits]
    rows = analysis[(analysis["outcome"] == outcome) & (analysis["visit"].isin(visits))
                    & analysis["baseline"].notna()]
    wide = rows.pivot(index="participant", columns="visit", values="change").reindex(columns=visits)
    people = rows.drop_duplicates("participant").set_index("participant").reindex(wide.index)
    participants = wide.index.to_numpy()
    arm = people["arm"].to_numpy().astype(str)
    baseline = people["baseline"].to_numpy(dtype=float)
    y = wide.to_numpy(dtype=float)
    observed = ~np.isnan(y)
    N, T = y.shape
    grid = pd.DataFrame({"participant": np.repeat(participants, T), "visit": np.tile(visits, N),
                         "baseline": np.repeat(baseline, T), "arm": np.repeat(arm, T)})
    p = len(fit.beta)
    x_own = fit.design(grid).reshape(N, T, p)
    x_ref = fit.design(grid.assign(arm=config["arms"]["reference"])).reshape(N, T, p)
    last = np.where(observed.any(axis=1), T - 1 - np.argmax(observed[:, ::-1], axis=1), -1)
    masks, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    patterns = [(masks[k], np.flatnonzero(inverse == k)) for k in range(len(masks))]
    return _Prepared(outcome=outcome, fit=fit, visits=visits, participants=participants, arm=arm,
                     treated=arm == config["arms"]["treatment"], baseline=baseline, y=y, observed=observed,
                     x_own=x_own, x_ref=x_ref, last=last, patterns=patterns,
                     better=_outcome_spec(config, outcome).get("better", "lower"))


def _standard_draws(seed: int, outcome: str, method: str, M: int, T: int, p: int, N: int, nu: float):
    """Per-imputation standard variates from SeedSequence(seed, spawn_key=(stream, outcome, method, m)).

    Returns chi-square variates (M, T) with nu - j df, Bartlett normals (M, T(T-1)/2), beta
    normals (M, p) and residual normals (M, N, T).
    """
    root = np.random.SeedSequence(seed, spawn_key=(_STREAM, zlib.crc32(outcome.encode("utf-8")),
                                                   _METHOD_CODE[method]))
    n_tri = T * (T - 1) // 2
    chi2 = np.empty((M, T))
    normals = np.empty((M, n_tri + p + N * T))
    for m, child in enumerate(root.spawn(M)):
        rng = np.random.Generator(np.random.PCG64(child))
        chi2[m] = rng.chisquare(nu - np.arange(T))
        normals[m] = rng.standard_normal(normals.shape[1])
    return chi2, normals[:, :n_tri], normals[:, n_tri:n_tri + p], normals[:, n_tri + p:].reshape(M, N, T)


def _inverse_wishart(sigma_hat: np.ndarray, nu: float, chi2: np.ndarray, lower_normals: np.ndarray) -> np.ndarray:
    r"""Draws :math:`\Sigma^* \sim W^{-1}(\nu, \nu\hat\Sigma)` by Bartlett's decomposition.

    With :math:`\nu\hat\Sigma = UU'` (Cholesky) and :math:`A` lower triangular,
    :math:`A_{jj} = \sqrt{\chi^2_{\nu - j}}` (:math:`j = 0..T-1`), :math:`A_{jk} \sim N(0, 1)`
    for :math:`j > k`: :math:`AA' \sim W(\nu, I)`, so :math:`\Sigma^* = U (AA')^{-1} U'`.
    """
    M, T = chi2.shape
    A = np.zeros((M, T, T))
    A[:, np.arange(T), np.arange(T)] = np.sqrt(chi2)
    rows, cols = np.tril_indices(T, k=-1)
    A[:, rows, cols] = lower_normals
    U = np.linalg.cholesky(nu * sigma_hat)
    K = U[None] @ np.linalg.inv(A).transpose(0, 2, 1)  # U A'^{-1}
    sigma = K @ K.transpose(0, 2, 1)
    return 0.5 * (sigma + sigma.transpose(0, 2, 1))


def _gls_draw(prep: _Prepared, sigma: np.ndarray, normals: np.ndarray) -> np.ndarray:
    r""":math:`\beta^* | \Sigma^* \sim N\{\hat\beta(\Sigma^*), (X'V^{*-1}X)^{-1}\}` from the observed data,
    summed over missingness patterns (no loop over participants)."""
    M = sigma.shape[0]
    p = prep.x_own.shape[2]
    xtvx = np.zeros((M, p, p))
    xtvy = np.zeros((M, p))
    for mask, members in prep.patterns:
        if not mask.any():
            continue
        x = prep.x_own[members][:, mask, :]  # (n, k, p)
        y = prep.y[members][:, mask]  # (n, k)
        s_inv = np.linalg.inv(sigma[:, mask][:, :, mask])  # (M, k, k)
        xtvx += np.einsum("mkl,kplq->mpq", s_inv, np.einsum("nkp,nlq->kplq", x, x))
        xtvy += np.einsum("mkl,kpl->mp", s_inv, np.einsum("nkp,nl->kpl", x, y))
    chol_xtvx = np.linalg.cholesky(xtvx)
    beta_hat = np.linalg.solve(xtvx, xtvy[..., None])[..., 0]
    # cov = (X'V^-1X)^-1 = L'^-1 L^-1: a draw is beta_hat + L'^-1 z
    return beta_hat + np.linalg.solve(chol_xtvx.transpose(0, 2, 1), normals[..., None])[..., 0]


def _method_means(prep: _Prepared, beta: np.ndarray, method: str) -> np.ndarray:
    r"""(M, N, T) mean profile of each participant's joint imputation distribution.

    With :math:`\mu_a` the own-arm and :math:`\mu_r` the reference-arm mean (both at the
    participant's baseline) and :math:`d` the last observed visit, a treatment-arm participant
    has mean :math:`\mu_a` up to :math:`d` and after :math:`d`
    ``j2r``: :math:`\mu_r`; ``cir``: :math:`\mu_a(d) + \mu_r - \mu_r(d)` (:math:`\mu(d) = 0`,
    the change at baseline, if nothing was observed); ``cr``: :math:`\mu_r` at every visit.
    """
    own = np.einsum("ntp,mp->mnt", prep.x_own, beta)
    if method == "mar":
        return own
    ref = np.einsum("ntp,mp->mnt", prep.x_ref, beta)
    T = own.shape[2]
    after = (np.arange(T)[None, :] > prep.last[:, None]) & prep.treated[:, None]  # (N, T)
    if method == "j2r":
        return np.where(after[None], ref, own)
    if method == "cr":
        return np.where(prep.treated[None, :, None], ref, own)
    # cir: own-arm mean at the last observed visit plus the reference arm's increments from it
    index = np.clip(prep.last, 0, None)
    take = np.arange(len(prep.last))
    seen = (prep.last >= 0)[None, :]
    anchor_own = np.where(seen, own[:, take, index], 0.0)[..., None]
    anchor_ref = np.where(seen, ref[:, take, index], 0.0)[..., None]
    return np.where(after[None], anchor_own + ref - anchor_ref, own)


def _conditional_draws(prep: _Prepared, mean: np.ndarray, sigma: np.ndarray, noise: np.ndarray):
    r"""Draw the missing visits given the observed ones, pattern by pattern, for all imputations.

    :math:`y_m | y_o \sim N\{\mu_m + \Sigma_{mo}\Sigma_{oo}^{-1}(y_o - \mu_o),\;
    \Sigma_{mm} - \Sigma_{mo}\Sigma_{oo}^{-1}\Sigma_{om}\}`.
    Returns (values, conditional means), both (M, N, T), observed cells holding the data.
    """
    M = mean.shape[0]
    values = np.broadcast_to(prep.y, mean.shape).copy()
    cmean = values.copy()
    for mask, members in prep.patterns:
        mis = ~mask
        if not mis.any():
            continue
        mu = mean[:, members]  # (M, n, T)
        s_mm = sigma[:, mis][:, :, mis]
        if mask.any():
            s_oo = sigma[:, mask][:, :, mask]
            s_mo = sigma[:, mis][:, :, mask]
            A = np.linalg.solve(s_oo, s_mo.transpose(0, 2, 1)).transpose(0, 2, 1)  # S_mo S_oo^-1
            resid = prep.y[members][:, mask][None] - mu[:, :, mask]
            cond_mean = mu[:, :, mis] + np.einsum("mab,mnb->mna", A, resid)
            cond_cov = s_mm - A @ s_mo.transpose(0, 2, 1)
        else:
            cond_mean = mu[:, :, mis]
            cond_cov = s_mm
        cond_cov = 0.5 * (cond_cov + cond_cov.transpose(0, 2, 1))
        chol = np.linalg.cholesky(cond_cov)
        draw = cond_mean + np.einsum("mab,mnb->mna", chol, noise[:, members][:, :, mis])
        idx = np.ix_(np.arange(M), members, np.flatnonzero(mis))
        values[idx] = draw
        cmean[idx] = cond_mean
    return values, cmean


def _unfavourable(better: str) -> float:
    """+1 when lower is better (a higher change is worse), -1 when higher is better."""
    return 1.0 if better == "lower" else -1.0


def _draw(prep: _Prepared, method: str, M: int, seed: int, delta: float, parameter_draws: bool) -> CompletedData:
    if method not in _METHOD_CODE:
        raise ValueError(f"unknown imputation method {method!r}; use one of {list(METHODS)}")
    if M < 1:
        raise ValueError("n_imputations must be at least 1")
    fit = prep.fit
    N, T, p = prep.x_own.shape
    nu = float(fit.n_subjects - p)
    if parameter_draws and nu <= T - 1:
        raise ValueError(f"{prep.outcome}: {fit.n_subjects} participants with data and {p} fixed effects leave "
                         f"{nu:g} degrees of freedom for the covariance draw; at least {T} are needed "
                         f"for {T} visits")
    chi2, lower, z_beta, z_resid = _standard_draws(seed, prep.outcome, method, M, T, p, N, max(nu, T))
    sigma_hat = np.asarray(fit.sigmas[0], dtype=float)
    if parameter_draws:
        sigma = _inverse_wishart(sigma_hat, nu, chi2, lower)
        beta = _gls_draw(prep, sigma, z_beta)
    else:
        sigma = np.broadcast_to(sigma_hat, (M, T, T)).copy()
        beta = np.broadcast_to(np.asarray(fit.beta, dtype=float), (M, p)).copy()
    mean = _method_means(prep, beta, method)
    values, cmean = _conditional_draws(prep, mean, sigma, z_resid)
    if delta:
        shift = delta * _unfavourable(prep.better) * (prep.treated[:, None] & ~prep.observed)
        values = values + shift[None]
        cmean = cmean + shift[None]
    return CompletedData(outcome=prep.outcome, method=method, delta=float(delta), visits=prep.visits,
                         participants=prep.participants, arm=prep.arm, treated=prep.treated,
                         baseline=prep.baseline, observed=prep.observed, values=values, conditional_mean=cmean,
                         beta=beta, sigma=sigma, wishart_df=nu, seed=int(seed), parameter_draws=parameter_draws,
                         fit=fit)


def impute_arrays(analysis: pd.DataFrame, outcome: str, config: dict, method: str = "mar",
                  n_imputations: int | None = None, seed: int | None = None, delta: float = 0.0,
                  parameter_draws: bool = True, fit=None) -> CompletedData:
    r"""Multiple imputation of one outcome's missing post-baseline changes (array form).

    Parameters
    ----------
    analysis : the tidy analysis table of :func:`pilottrial.data.ingest.load_trial`.
    outcome : outcome name.
    config : the validated config.
    method : ``"mar"``, ``"j2r"``, ``"cir"`` or ``"cr"``.
    n_imputations : ``M``; default ``config["analysis"]["imputations"]``.
    seed : root seed; default ``config["analysis"]["seed"]``.
    delta : points added to every imputed value of the treatment arm, in the unfavourable
        direction (``+delta`` if lower is better, ``-delta`` if higher is better).
    parameter_draws : False imputes at the REML estimates :math:`(\hat\beta, \hat\Sigma)`
        (improper imputation; for checking the imputation means).
    fit : an already fitted :func:`fit_imputation_model` of this outcome.

    Returns
    -------
    :class:`CompletedData`; its ``to_frame()`` is :func:`impute`'s table.

    Notes
    -----
    **Model.** :func:`fit_imputation_model`, :math:`y_i \sim N(X_i\beta, \Sigma)` over the
    post-baseline visits, fitted by REML to the observed data (MAR). Every randomized participant with a
    baseline is imputed, including those with no post-baseline score.

    **Parameter draws** (approximately proper imputation; Schafer 1997, ch. 5; Carpenter &
    Kenward 2013): for each imputation

    .. math::

        \Sigma^* \sim W^{-1}(\nu, \nu\hat\Sigma), \quad \nu = n - p, \qquad
        \beta^* | \Sigma^* \sim N\{\hat\beta(\Sigma^*), (X'V^{*-1}X)^{-1}\},

    with :math:`n` the participants in the fit, :math:`p` the fixed effects and
    :math:`\hat\beta(\Sigma^*)` the GLS estimate from the observed data at :math:`\Sigma^*`.
    The inverse-Wishart is the complete-data posterior of a multivariate regression under
    the Jeffreys prior with the residual cross-products :math:`\nu\hat\Sigma`; :math:`\nu = n - p`
    counts all fixed effects (a saturated regression would lose only the between-participant
    columns per visit), so the draws are slightly over-dispersed, never short of positive
    definite. Drawing :math:`\beta` given :math:`\Sigma^*` gives its marginal the heavier,
    t-like tails of the posterior.

    **Imputation.** Each participant's missing visits :math:`m` given the observed :math:`o`:

    .. math::

        y_m | y_o \sim N\{\mu_m + \Sigma^*_{mo}\Sigma^{*-1}_{oo}(y_o - \mu_o),\;
        \Sigma^*_{mm} - \Sigma^*_{mo}\Sigma^{*-1}_{oo}\Sigma^*_{om}\},

    with the mean profile :math:`\mu` of the method (Carpenter, Roger & Kenward 2013), for a
    treatment-arm participant whose last observed visit is :math:`d` (own-arm mean
    :math:`\mu_a`, reference-arm mean :math:`\mu_r`, both at their baseline):

    * ``mar``: :math:`\mu = \mu_a`;
    * ``j2r``: :math:`\mu_j = \mu_{a,j}` for :math:`j \le d`, :math:`\mu_{r,j}` after;
    * ``cir``: :math:`\mu_j = \mu_{a,d} + (\mu_{r,j} - \mu_{r,d})` after :math:`d`
      (:math:`\mu_{\cdot,d} = 0`, the change at baseline, when nothing was observed);
    * ``cr``: :math:`\mu = \mu_r` at every visit, observed ones included.

    Reference-arm participants have :math:`\mu = \mu_a = \mu_r` under every method (MAR).
    Visits missing *before* the last observed visit (intermittent) have the own-arm mean
    under every method, i.e. they are imputed under MAR, jointly with the post-dropout ones.
    Draws are grouped by missingness pattern and vectorized over imputations.

    References
    ----------
    Carpenter JR, Roger JH, Kenward MG (2013). Analysis of longitudinal trials with protocol
    deviation: a framework for relevant, accessible assumptions, and inference via multiple
    imputation. J Biopharm Stat 23(6):1352-1371.
    Carpenter JR, Kenward MG (2013). Multiple Imputation and its Application. Wiley.
    Schafer JL (1997). Analysis of Incomplete Multivariate Data. Chapman & Hall.
    Smith WB, Hocking RR (1972). Algorithm AS 53: Wishart variate generator. Appl Stat 21:341-345.
    """
    prep = _prepare(analysis, outcome, config, fit=fit)
    M = int(config["analysis"]["imputations"] if n_imputations is None else n_imputations)
    seed = int(config["analysis"]["seed"] if seed is None else seed)
    return _draw(prep, method, M, seed, delta, parameter_draws)


def impute(analysis: pd.DataFrame, outcome: str, config: dict, method: str = "mar",
           n_imputations: int | None = None, seed: int | None = None, delta: float = 0.0,
           parameter_draws: bool = True) -> pd.DataFrame:
    """Multiple imputation of one outcome's missing post-baseline changes (tidy, long).

    Same arguments and model as :func:`impute_arrays`.

    Returns
    -------
    DataFrame ``imputation, participant, arm, visit, baseline, change, imputed``: the ``M``
    completed data sets stacked (``imputation`` = 1..M), one row per participant x
    post-baseline visit of the model; ``imputed`` marks drawn values.

    Examples
    --------
    >>> from pilottrial.config.load import load_config
    >>> from pilottrial.data.ingest import load_trial
    >>> config = load_config("config/config.yaml")  # doctest: +SKIP
    >>> completed = impute(load_trial(config), "CAPS-5", config, "j2r", n_imputations=5)  # doctest: +SKIP
    """
    return impute_arrays(analysis, outcome, config, method, n_imputations, seed, delta,
                         parameter_draws).to_frame()


# ---- analysis and pooling ------------------------------------------------------------------
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
    """
    X = np.column_stack([np.ones_like(baseline), baseline, treated.astype(float)])
    xtx_inv = np.linalg.inv(X.T @ X)
    hat = xtx_inv @ X.T  # (3, N)
    coef = change @ hat.T  # (..., 3)
    resid = change - coef @ X.T
    df = X.shape[0] - X.shape[1]
    s2 = np.sum(resid ** 2, axis=-1) / df
    return coef[..., 2], s2 * xtx_inv[2, 2], df


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


def _efficacy_outcomes(config: dict) -> list:
    return [o["name"] for o in config["outcomes"] if o.get("role", "efficacy") == "efficacy"]


def _pooled_at(completed: CompletedData, visit: str, alpha: float) -> pd.DataFrame:
    j = completed.visits.index(visit)
    q, u, df = ancova_arrays(completed.values[:, :, j], completed.baseline, completed.treated)
    return rubin_rules(q, u, df, alpha)


def mi_contrasts(analysis: pd.DataFrame, config: dict, methods=METHODS, n_imputations: int | None = None,
                 seed: int | None = None) -> pd.DataFrame:
    r"""Treatment contrasts at the key visits by multiple imputation, one row per method.

    For each efficacy outcome (``role: efficacy``) and method, ``M`` completed data sets are
    drawn by :func:`impute_arrays`; at each key visit (``visits.key``, those at which the
    outcome was measured) each is analysed by the OLS ANCOVA ``change ~ baseline + arm`` of
    all randomized participants, and the treatment coefficients are pooled by
    :func:`rubin_rules` (Barnard-Rubin df, ``analysis.alpha``).

    Parameters
    ----------
    analysis : the tidy analysis table.
    config : the validated config.
    methods : imputation methods, from :data:`METHODS`.
    n_imputations, seed : default ``analysis.imputations`` and ``analysis.seed``.

    Returns
    -------
    DataFrame with :data:`MI_CONTRAST_COLUMNS`: :data:`~pilottrial.models.primary.CONTRAST_COLUMNS`
    (``model`` = ``"ancova"``) plus ``analysis`` (``"mi_" + method``), ``imputations`` and
    ``fraction_missing_info``; sorted by outcome (config order), key visit, method.
    """
    alpha = config["analysis"]["alpha"]
    M = int(config["analysis"]["imputations"] if n_imputations is None else n_imputations)
    seed = int(config["analysis"]["seed"] if seed is None else seed)
    unknown = [m for m in methods if m not in _METHOD_CODE]
    if unknown:
        raise ValueError(f"unknown imputation method(s) {unknown}; use {list(METHODS)}")
    rows = []
    for outcome in _efficacy_outcomes(config):
        prep = _prepare(analysis, outcome, config)
        key_visits = [v for v in config["visits"]["key"] if v in prep.visits]
        for method in methods:
            completed = _draw(prep, method, M, seed, 0.0, True)
            for visit in key_visits:
                pooled = _pooled_at(completed, visit, alpha)
                rows.append(pooled.assign(outcome=outcome, model="ancova", visit=visit, analysis=f"mi_{method}"))
    if not rows:
        return pd.DataFrame(columns=MI_CONTRAST_COLUMNS)
    table = pd.concat(rows, ignore_index=True)
    outcome_rank = {o: k for k, o in enumerate(o["name"] for o in config["outcomes"])}
    visit_rank = {v: k for k, v in enumerate(config["visits"]["key"])}
    method_rank = {f"mi_{m}": k for k, m in enumerate(methods)}
    order = np.lexsort([table["analysis"].map(method_rank), table["visit"].map(visit_rank),
                        table["outcome"].map(outcome_rank)])
    return table.iloc[order].reset_index(drop=True)[MI_CONTRAST_COLUMNS]


def _conclusion(significant: np.ndarray, favours: np.ndarray) -> np.ndarray:
    return np.where(significant, np.where(favours, "significant benefit", "significant harm"), "not significant")


def tipping_point(analysis: pd.DataFrame, config: dict, n_imputations: int | None = None,
                  seed: int | None = None) -> pd.DataFrame:
    r"""Delta-adjusted MAR imputation over a grid of deltas at the last key visit.

    For each efficacy outcome, the MAR imputations of :func:`impute_arrays` (the same draws
    as ``mi_mar`` in :func:`mi_contrasts`) are shifted by :math:`\delta` in the unfavourable
    direction at every imputed value of the treatment arm, for
    :math:`\delta = 0, s, 2s, \dots \le \delta_{max}` (``analysis.tipping_delta_step``,
    ``analysis.tipping_delta_max``), analysed by ANCOVA at the last key visit the outcome was
    measured at, and pooled by Rubin's rules.

    Parameters
    ----------
    analysis : the tidy analysis table.
    config : the validated config.
    n_imputations, seed : default ``analysis.imputations`` and ``analysis.seed``.

    Returns
    -------
    DataFrame with :data:`TIPPING_COLUMNS`, one row per outcome x delta:
    ``estimate, std_error, df, ci_lower, ci_upper, p_value`` (Rubin's rules),
    ``significant`` (the CI excludes 0), ``favours_treatment`` (the estimate is in the
    direction of benefit), ``conclusion`` (``"significant benefit"``, ``"not significant"``
    or ``"significant harm"``), and, repeated on the outcome's rows, ``tipping_delta``: the
    smallest delta whose conclusion differs from that at :math:`\delta = 0` (NaN if none in
    the grid, with the reason in ``note``).

    Notes
    -----
    The shift is applied after imputation, so the same draws serve every delta: the estimate
    is linear in :math:`\delta` and the between-imputation variance does not change with it.

    References
    ----------
    Ratitch B, O'Kelly M, Tosiello R (2013). Missing data in clinical trials: from clinical
    assumptions to statistical analysis using pattern mixture models. Pharm Stat 12:337-347.
    """
    a = config["analysis"]
    alpha = a["alpha"]
    M = int(a["imputations"] if n_imputations is None else n_imputations)
    seed = int(a["seed"] if seed is None else seed)
    step, top = float(a["tipping_delta_step"]), float(a["tipping_delta_max"])
    deltas = np.round(step * np.arange(int(np.floor(top / step + 1e-9)) + 1), 10)
    tables = []
    for outcome in _efficacy_outcomes(config):
        prep = _prepare(analysis, outcome, config)
        measured = [v for v in config["visits"]["key"] if v in prep.visits]
        if not measured:
            continue
        visit = measured[-1]
        j = prep.visits.index(visit)
        completed = _draw(prep, "mar", M, seed, 0.0, True)
        direction = _unfavourable(prep.better)
        shift = direction * (prep.treated & ~prep.observed[:, j]).astype(float)  # (N,)
        change = completed.values[None, :, :, j] + deltas[:, None, None] * shift[None, None, :]
        q, u, df = ancova_arrays(change, completed.baseline, completed.treated)
        pooled = rubin_rules(q, u, df, alpha)
        significant = (pooled["ci_lower"] > 0) | (pooled["ci_upper"] < 0)
        favours = pooled["estimate"] * direction < 0
        conclusion = _conclusion(significant.to_numpy(), favours.to_numpy()).astype(object)
        changed = np.flatnonzero(conclusion != conclusion[0])
        if not shift.any():
            tipping, note = np.nan, f"no imputed value in the treatment arm at {visit}: delta has no effect"
        elif changed.size:
            tipping = float(deltas[changed[0]])
            note = f"conclusion changes from '{conclusion[0]}' to '{conclusion[changed[0]]}' at delta = {tipping:g}"
        else:
            tipping, note = np.nan, f"conclusion '{conclusion[0]}' unchanged up to delta = {deltas[-1]:g}"
        tables.append(pooled.assign(outcome=outcome, visit=visit, delta=deltas, significant=significant,
                                    favours_treatment=favours, conclusion=conclusion, tipping_delta=tipping,
                                    note=note))
    if not tables:
        return pd.DataFrame(columns=TIPPING_COLUMNS)
    return pd.concat(tables, ignore_index=True)[TIPPING_COLUMNS]
