r"""Multiple imputation of one outcome's missing post-baseline changes, under MAR and reference-based assumptions.

:func:`impute` (tidy, long) and :func:`impute_arrays` (arrays) draw ``M`` completed data sets
of the post-baseline change of one outcome from an MMRM (the primary model with one baseline
slope per visit, :func:`fit_imputation_model`; unstructured covariance), under

* ``"mar"`` -- missing at random: each participant's missing visits from the conditional
  normal given their observed visits, with their own arm's means;
* ``"j2r"`` -- jump to reference, ``"cir"`` -- copy increments in reference, ``"cr"`` --
  copy reference (Carpenter, Roger & Kenward 2013) for treatment-arm participants after their
  last observed visit; the reference arm is imputed under MAR by every method.

A ``delta`` (points) can be added to the treatment arm's imputed values, in the unfavourable
direction, for the tipping-point analysis (:mod:`pilottrial.analyses.missing.pooling`).

Three or more arms
    Pass the treatment arms as a list: every arm is in the imputation model (``arm`` with k
    levels, reference first), and the reference-based methods take the participants of every
    treatment arm towards the one reference arm. A two-arm call (``treatment`` a label) is the
    same computation as before k arms existed.

Random numbers
    Every draw comes from ``numpy.random.SeedSequence(seed)`` with the fixed spawn key
    ``(0x4D49, crc32(outcome), method code, m)`` for imputation ``m``: the results do not
    depend on the order in which outcomes or methods are run, and the first ``M'``
    imputations are the same whatever ``M >= M'`` is.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pilottrial.analyses.common import outcome_frame, outcome_label
from pilottrial.models.mmrm import fit_mmrm

__all__ = ["METHODS", "IMPUTATION_FORMULA", "CompletedData", "fit_imputation_model", "impute_arrays", "impute"]

#: Mean model of the imputation MMRM (one baseline slope per visit: congenial with the
#: per-visit ANCOVA that analyses the completed data).
IMPUTATION_FORMULA = "change ~ baseline * visit + arm * visit"
#: Imputation methods, in the order reported.
METHODS = ("mar", "j2r", "cir", "cr")
_METHOD_CODE = {"mar": 1, "j2r": 2, "cir": 3, "cr": 4}
_STREAM = 0x4D49  # "MI": this module's namespace in the config seed's spawn tree


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
    better: str = "lower"
    arms: tuple = ()  # (reference, treatment, ...): the arms of the imputation model, reference first

    @property
    def unfavourable_sign(self) -> float:
        """+1 when lower is better (a higher change is worse), -1 when higher is better."""
        return _unfavourable(self.better)

    @property
    def n_imputations(self) -> int:
        return int(self.values.shape[0])

    @property
    def imputed(self) -> np.ndarray:
        """(N, T) bool: the cells that were imputed."""
        return ~self.observed

    @property
    def reference(self) -> str:
        """The reference arm (the arm towards which J2R, CIR and CR impute)."""
        return self.arms[0]

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



def fit_imputation_model(frame: pd.DataFrame, covariance: str = "us", fallback=None):
    r"""The MMRM from which missing changes are imputed.

    Parameters
    ----------
    frame : pandas.DataFrame
        One outcome's model frame (observed post-baseline changes; ``arm`` and ``visit``
        Categoricals, reference arm first: :func:`pilottrial.models.primary.model_frame` or
        :func:`pilottrial.analyses.common.outcome_frame`).
    covariance : str, default "us"
        Residual covariance structure.
    fallback : list of str, optional
        Structures tried in order when ``covariance`` does not converge.

    Returns
    -------
    :class:`~pilottrial.models.mmrm.MMRMFit`
        ``change ~ baseline * visit + arm * visit`` (``change ~ baseline + arm`` for an
        outcome measured at one post-baseline visit), REML.

    Notes
    -----
    The primary MMRM has one baseline slope for all visits; the imputation model has one per
    visit, as the multivariate normal model of Carpenter, Roger & Kenward (2013), so that it
    is congenial with the ANCOVA at each visit that analyses the completed data: with a
    visit observed for everyone, MI returns that visit's complete-data ANCOVA, and MI under
    MAR reproduces this model's treatment contrasts up to Monte Carlo error.

    References
    ----------
    Carpenter JR, Roger JH, Kenward MG (2013). Analysis of longitudinal trials with protocol
    deviation: a framework for relevant, accessible assumptions, and inference via multiple
    imputation. J Biopharm Stat 23(6):1352-1371.

    Examples
    --------
    >>> from pilottrial.analyses.common import outcome_frame
    >>> from pilottrial.analyses.common import example_frame
    >>> data = example_frame(missing=True)
    >>> fit = fit_imputation_model(outcome_frame(data, "placebo", "drug"))
    >>> fit.structure, fit.n_subjects, fit.n_obs
    ('us', 10, 18)
    """
    formula = IMPUTATION_FORMULA if len(frame["visit"].cat.categories) > 1 else "change ~ baseline + arm"
    return fit_mmrm(frame, formula, subject="participant", visit="visit", covariance=covariance,
                    fallback=fallback, method="reml", df_method="residual")


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
    arms: tuple = ()



def _treatment_arms(treatment) -> tuple:
    """The treatment arm(s) of an imputation call: one label, or a list of them (three or more arms)."""
    return (str(treatment),) if isinstance(treatment, str) or np.ndim(treatment) == 0 else tuple(map(str, treatment))


def _arms_frame(data: pd.DataFrame, arms: list, visits) -> pd.DataFrame:
    """One outcome's post-baseline rows with ``arm`` a Categorical of all ``arms`` (reference first), as
    :func:`~pilottrial.analyses.common.outcome_frame` codes two arms."""
    frame = data[data["visit"].isin(list(visits))].dropna(subset=["change", "baseline"]).copy()
    frame["arm"] = pd.Categorical(frame["arm"].astype(str), list(arms))
    present = set(frame["visit"])
    frame["visit"] = pd.Categorical(frame["visit"], [v for v in visits if v in present])
    return frame


def _prepare(data: pd.DataFrame, fit, reference: str, treatment, outcome: str, better: str) -> _Prepared:
    if len(fit.groups) != 1:
        raise ValueError("imputation needs one visit covariance (an MMRM without group-specific covariances)")
    visits = [str(v) for v in fit.visits]
    rows = data[data["visit"].isin(visits) & data["baseline"].notna()]
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
    x_ref = fit.design(grid.assign(arm=reference)).reshape(N, T, p)
    last = np.where(observed.any(axis=1), T - 1 - np.argmax(observed[:, ::-1], axis=1), -1)
    masks, inverse = np.unique(observed, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    patterns = [(masks[k], np.flatnonzero(inverse == k)) for k in range(len(masks))]
    treatments = _treatment_arms(treatment)
    treated = arm == treatments[0] if len(treatments) == 1 else np.isin(arm, treatments)
    return _Prepared(outcome=outcome, fit=fit, visits=visits, participants=participants, arm=arm,
                     treated=treated, baseline=baseline, y=y, observed=observed,
                     x_own=x_own, x_ref=x_ref, last=last, patterns=patterns, better=better,
                     arms=(str(reference), *treatments))


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
    # nothing to impute: every completed data set is the data, whatever the parameters drawn
    parameter_draws = parameter_draws and not prep.observed.all()
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
                         fit=fit, better=prep.better, arms=prep.arms)


def impute_arrays(data: pd.DataFrame, reference: str, treatment: str, visits, *, method: str = "mar",
                  n_imputations: int = 100, seed: int = 0, delta: float = 0.0, better: str = "lower",
                  covariance: str = "us", fallback=None, parameter_draws: bool = True, fit=None,
                  outcome: str | None = None) -> CompletedData:
    r"""Multiple imputation of one outcome's missing post-baseline changes (array form).

    Parameters
    ----------
    data : pandas.DataFrame
        The analysis rows of one outcome: ``participant, arm, visit, baseline, change``, one
        row per randomized participant x visit (a missing change is NaN). Every participant
        with a baseline is imputed, including those with no post-baseline score.
    reference : str
        The reference arm.
    treatment : str or list of str
        The treatment arm, or every treatment arm of a trial with three or more arms (all arms
        enter the imputation model; the reference-based methods impute each treatment arm's
        dropouts towards ``reference``).
    visits : list of str
        The post-baseline visits in time order (rows at other visits are ignored).
    method : {"mar", "j2r", "cir", "cr"}, default "mar"
        Imputation method (Notes).
    n_imputations : int, default 100
        ``M``.
    seed : int, default 0
        Root of the random stream (the pipeline passes ``analysis.seed``).
    delta : float, default 0
        Points added to every imputed value of the treatment arm(s), in the unfavourable
        direction (``+delta`` if lower is better, ``-delta`` if higher is better).
    better : {"lower", "higher"}, default "lower"
        Direction of improvement of the outcome.
    covariance, fallback
        Residual covariance structure of the imputation model and the structures tried when it
        does not converge (ignored when ``fit`` is given).
    parameter_draws : bool, default True
        False imputes at the REML estimates :math:`(\hat\beta, \hat\Sigma)` (improper
        imputation; for checking the imputation means).
    fit : MMRMFit, optional
        An already fitted :func:`fit_imputation_model` of this outcome (its visits are the
        ones imputed).
    outcome : str, optional
        Outcome label (default the ``outcome`` column of ``data``); it names the random stream.

    Returns
    -------
    CompletedData
        Its ``to_frame()`` is :func:`impute`'s table.

    Notes
    -----
    **Model.** :func:`fit_imputation_model`, :math:`y_i \sim N(X_i\beta, \Sigma)` over the
    post-baseline visits, fitted by REML to the observed data (MAR).

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
    With several treatment arms, :math:`\mu_a` is the participant's own arm and :math:`\mu_r` the
    one reference arm for every treatment arm. Draws are grouped by missingness pattern and
    vectorized over imputations.

    References
    ----------
    Carpenter JR, Roger JH, Kenward MG (2013). Analysis of longitudinal trials with protocol
    deviation: a framework for relevant, accessible assumptions, and inference via multiple
    imputation. J Biopharm Stat 23(6):1352-1371.
    Carpenter JR, Kenward MG (2013). Multiple Imputation and its Application. Wiley.
    Schafer JL (1997). Analysis of Incomplete Multivariate Data. Chapman & Hall.
    Smith WB, Hocking RR (1972). Algorithm AS 53: Wishart variate generator. Appl Stat 21:341-345.

    Examples
    --------
    >>> from pilottrial.analyses.common import example_frame
    >>> data = example_frame(missing=True)
    >>> completed = impute_arrays(data, "placebo", "drug", ["week4", "week8"], method="j2r",
    ...                           n_imputations=5, seed=1, outcome="HAM-D")
    >>> completed.values.shape, int(completed.imputed.sum())
    ((5, 10, 2), 2)
    >>> completed.values[:, 8, 1].round(2)
    array([ 4.82, -4.91,  2.72, -7.23, -6.37])
    """
    if fit is None:
        treatments = _treatment_arms(treatment)
        frame = (outcome_frame(data, reference, treatment, list(visits)) if len(treatments) == 1
                 else _arms_frame(data, [reference, *treatments], list(visits)))
        fit = fit_imputation_model(frame, covariance, fallback)
    prep = _prepare(data, fit, reference, treatment, outcome_label(data, outcome), better)
    return _draw(prep, method, int(n_imputations), int(seed), delta, parameter_draws)


def impute(data: pd.DataFrame, reference: str, treatment: str, visits, **options) -> pd.DataFrame:
    """Multiple imputation of one outcome's missing post-baseline changes (tidy, long).

    Same arguments and model as :func:`impute_arrays` (``options`` are its keyword arguments).

    Returns
    -------
    pandas.DataFrame
        ``imputation, participant, arm, visit, baseline, change, imputed``: the ``M``
        completed data sets stacked (``imputation`` = 1..M), one row per participant x
        post-baseline visit of the model; ``imputed`` marks drawn values.

    Examples
    --------
    >>> from pilottrial.analyses.common import example_frame
    >>> data = example_frame(missing=True)
    >>> completed = impute(data, "placebo", "drug", ["week4", "week8"], n_imputations=3, seed=1)
    >>> len(completed), int(completed["imputed"].sum())
    (60, 6)
    """
    return impute_arrays(data, reference, treatment, visits, **options).to_frame()
