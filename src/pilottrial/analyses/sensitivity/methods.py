"""Sensitivity analyses of the treatment effect: other models, other assumptions, no model.

The primary analysis (:mod:`pilottrial.models.primary`) is the MMRM of change from baseline,
``change ~ baseline + arm * visit`` with unstructured residual covariance. Each function here
re-estimates the same quantity -- the treatment minus reference difference in mean change from
baseline at each key visit of each efficacy outcome -- under different assumptions:

* ``ancova_complete_case`` -- one visit at a time, participants observed at that visit (OLS);
* ``mixed_anova_complete_case`` -- participants complete at every post-baseline visit, no
  baseline adjustment: Welch t per visit, Greenhouse-Geisser arm x visit interaction F;
* ``gee_bias_reduced`` -- marginal model, exchangeable working correlation, Mancl-DeRouen
  bias-reduced sandwich covariance, t on N - p df;
* ``randomization_test`` -- p-value from re-randomizing the arm labels (no distributional
  assumption; the sharp null of no effect in anyone);
* ``mann_whitney`` -- rank test and Hodges-Lehmann shift, no model;
* ``lmm_random_intercept`` -- random participant intercept (compound symmetry);
* ``mmrm_<structure>`` -- the primary MMRM with each of ``analysis.sensitivity_structures``.

Every function takes the tidy analysis table of :func:`pilottrial.data.ingest.load_trial` and the
validated config, and returns one row per efficacy outcome (``role: efficacy``) x key visit
(``visits.key``) with :data:`SENSITIVITY_COLUMNS`: the contrast columns of the primary
analysis (:data:`pilottrial.models.primary.CONTRAST_COLUMNS`), ``analysis`` and ``note``. A row
that cannot be estimated (a structure that does not converge, a visit at which the outcome was
not measured) has NaN numbers and the reason in ``note``; nothing raises for a numerical reason.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from patsy import build_design_matrices
from scipy import stats

from pilottrial.models.primary import CONTRAST_COLUMNS, fit_outcome_lmm, fit_outcome_mmrm, model_formula, model_frame
from pilottrial.analyses.nonparametric import hodges_lehmann
from pilottrial.models.mmrm import MMRMError, fit_mmrm

__all__ = [
    "sensitivity_analyses",
    "ancova_complete_case",
    "mixed_anova_complete_case",
    "gee_bias_reduced",
    "randomization_test",
    "mann_whitney",
    "lmm_random_intercept",
    "mmrm_structures",
    "hodges_lehmann",
    "SENSITIVITY_COLUMNS",
    "FIXED_ANALYSES",
]

SENSITIVITY_COLUMNS = CONTRAST_COLUMNS + ["analysis", "note"]
FIXED_ANALYSES = ("ancova_complete_case", "mixed_anova_complete_case", "gee_bias_reduced",
                  "randomization_test", "mann_whitney", "lmm_random_intercept")
NULL_FORMULA = "change ~ baseline + visit"
# Numerical failures that give a row of NaN with the reason, never a crash.
_FAILURES = (MMRMError, np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError)
_DRAW_CHUNK = 2000


# ---- shared helpers ---------------------------------------------------------------------
def _efficacy_outcomes(config: dict, outcomes=None) -> list:
    if outcomes is not None:
        return [outcomes] if isinstance(outcomes, str) else list(outcomes)
    return [o["name"] for o in config["outcomes"] if o.get("role", "efficacy") == "efficacy"]


def _arms(config: dict) -> tuple:
    return config["arms"]["reference"], config["arms"]["treatment"]


def _row(outcome, analysis, model, visit, estimate=np.nan, std_error=np.nan, df=np.nan,
         ci_lower=np.nan, ci_upper=np.nan, p_value=np.nan, note="") -> dict:
    return {"outcome": outcome, "model": model, "visit": str(visit), "estimate": float(estimate),
            "std_error": float(std_error), "df": float(df), "ci_lower": float(ci_lower),
            "ci_upper": float(ci_upper), "p_value": float(p_value), "analysis": analysis, "note": note}


def _failed_rows(outcome, analysis, model, config, reason) -> list:
    reason = " ".join(str(reason).split())
    reason = reason if len(reason) <= 300 else reason[:297] + "..."
    return [_row(outcome, analysis, model, v, note=f"not estimable: {reason}") for v in config["visits"]["key"]]


def _table(rows) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    for col in ("estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value"):
        table[col] = table[col].astype(float)
    return table


def _per_visit(outcome, analysis, model, frame, config, estimate_at) -> list:
    """Rows for the key visits: ``estimate_at(visit)`` gives a row's numbers (dict) or raises."""
    rows = []
    measured = list(frame["visit"].cat.categories)
    for visit in config["visits"]["key"]:
        if visit not in measured:
            rows.append(_row(outcome, analysis, model, visit,
                             note=f"not estimable: {outcome} has no change from baseline at {visit}"))
            continue
        try:
            rows.append(_row(outcome, analysis, model, visit, **estimate_at(visit)))
        except _FAILURES as exc:
            rows.append(_row(outcome, analysis, model, visit, note=f"not estimable: {exc}"))
    return rows


def _t_interval(estimate, std_error, df, alpha):
    half = stats.t.ppf(1 - alpha / 2, df) * std_error
    return estimate - half, estimate + half


def _contrast_rows(fit, outcome, analysis, model, config, note) -> list:
    """Treatment contrasts of an MMRM-engine fit at the key visits."""
    reference, treatment = _arms(config)
    table = fit.treatment_contrasts("arm", reference, treatment, visit="visit", alpha=config["analysis"]["alpha"])
    if "visit" not in fit.factor_levels:  # one post-baseline visit: the single contrast is at that visit
        table["visit"] = list(fit.model_frame["visit"].cat.categories)
    by_visit = table.set_index(table["visit"].astype(str))
    rows = []
    for visit in config["visits"]["key"]:
        if visit not in by_visit.index:
            rows.append(_row(outcome, analysis, model, visit,
                             note=f"not estimable: {outcome} has no change from baseline at {visit}"))
            continue
        r = by_visit.loc[visit]
        rows.append(_row(outcome, analysis, model, visit, r["estimate"], r["std_error"], r["df"], r["ci_lower"],
                         r["ci_upper"], r["p_value"], note))
    return rows


# ---- 1. ANCOVA, complete cases per visit -----------------------------------------------
def ancova_complete_case(analysis: pd.DataFrame, config: dict, outcomes=None) -> pd.DataFrame:
    r"""ANCOVA of change at each key visit, on the participants observed at that visit.

    Model, separately for each visit :math:`v`, by ordinary least squares:

    .. math::
        \mathrm{change}_{iv} = \beta_0 + \beta_1\,\mathrm{baseline}_i + \delta_v\,
        \mathrm{treatment}_i + \varepsilon_i,\qquad \varepsilon_i \sim N(0, \sigma_v^2),

    i.e. ``change ~ baseline + arm`` with the reference arm as the reference level. The
    estimate is :math:`\hat\delta_v` (treatment minus reference, adjusted for baseline), with a
    t interval and test on the residual degrees of freedom :math:`n_v - 3`.

    Parameters
    ----------
    analysis : the analysis table (``participant, arm, visit, outcome, baseline, score, change``).
    config : the validated config (arms, key visits, ``analysis.alpha``).
    outcomes : outcome names; default every efficacy outcome.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`; ``model`` is ``"ancova"``, ``note`` gives the
    number of participants used.

    Notes
    -----
    Complete-case at each visit: valid when missingness does not depend on the outcome given
    baseline and arm (MCAR given covariates); the MMRM needs only MAR.

    References
    ----------
    Vickers AJ, Altman DG (2001). Analysing controlled trials with baseline and follow up
    measurements. BMJ 323:1123-1124.

    Examples
    --------
    >>> from pilottrial.config.load import load_config
    >>> from pilottrial.data.ingest import load_trial
    >>> config = load_config("config/config.yaml")
    >>> ancova_complete_case(load_trial(config), config)[["outcome", "visit", "estimate"]].shape
    (6, 3)
    """
    treatment = config["arms"]["treatment"]
    alpha = config["analysis"]["alpha"]
    rows = []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)

        def estimate_at(visit, frame=frame):
            at = frame[frame["visit"] == visit]
            fit = smf.ols("change ~ baseline + arm", data=at).fit()
            term = f"arm[T.{treatment}]"
            if term not in fit.params.index or fit.df_resid < 1:
                raise ValueError(f"both arms and at least 4 participants are needed at {visit}")
            lower, upper = fit.conf_int(alpha=alpha).loc[term]
            return {"estimate": fit.params[term], "std_error": fit.bse[term], "df": fit.df_resid,
                    "ci_lower": lower, "ci_upper": upper, "p_value": fit.pvalues[term],
                    "note": f"OLS change ~ baseline + arm; n = {int(fit.nobs)} observed at {visit}"}

        rows += _per_visit(outcome, "ancova_complete_case", "ancova", frame, config, estimate_at)
    return _table(rows)


# ---- 2. mixed ANOVA, complete cases over all visits ------------------------------------
def mixed_anova_complete_case(analysis: pd.DataFrame, config: dict, outcomes=None) -> pd.DataFrame:
    r"""Mixed (split-plot) ANOVA of change on participants complete at every post-baseline visit.

    ``pingouin.mixed_anova(dv="change", within="visit", between="arm", subject="participant",
    correction=True)``: the arm x visit interaction F with the Greenhouse-Geisser correction
    of its degrees of freedom (:math:`\hat\varepsilon\,(k-1)`, :math:`\hat\varepsilon\,(k-1)(n-2)`)
    goes in ``note``. The per-visit arm difference is the difference in mean change,
    :math:`\bar d_T - \bar d_R`, with the Welch standard error
    :math:`\sqrt{s_T^2/n_T + s_R^2/n_R}`, the Welch-Satterthwaite df and p of
    ``pingouin.pairwise_tests(within="visit", between="arm", correction=True)`` (between arms
    within visit, unadjusted), and the t interval on those df.

    Parameters
    ----------
    analysis, config, outcomes : as :func:`ancova_complete_case`.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`; ``model`` is ``"mixed_anova"``.

    Notes
    -----
    No baseline adjustment, and only participants with every post-baseline visit: the classical
    repeated-measures analysis the MMRM replaces; valid under MCAR. An outcome measured at a
    single post-baseline visit has no within factor (rows of NaN).

    References
    ----------
    Greenhouse SW, Geisser S (1959). On methods in the analysis of profile data.
    Psychometrika 24:95-112.
    Welch BL (1947). The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 34:28-35.
    Vallat R (2018). Pingouin: statistics in Python. JOSS 3(31):1026.
    """
    import pingouin as pg

    reference, treatment = _arms(config)
    alpha = config["analysis"]["alpha"]
    rows = []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)
        visits = list(frame["visit"].cat.categories)
        if len(visits) < 2:
            rows += _failed_rows(outcome, "mixed_anova_complete_case", "mixed_anova", config,
                                 f"{outcome} is measured at one post-baseline visit; no within-participant factor")
            continue
        complete = _complete_cases(frame, visits)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.filterwarnings("ignore", category=Warning, module="pingouin")
                warnings.filterwarnings("ignore", message=".*(deprecated|inplace|observed).*")
                aov = pg.mixed_anova(data=complete, dv="change", within="visit", between="arm",
                                     subject="participant", correction=True)
                pairs = pg.pairwise_tests(data=complete, dv="change", within="visit", between="arm",
                                          subject="participant", correction=True, padjust="none")
        except _FAILURES as exc:
            rows += _failed_rows(outcome, "mixed_anova_complete_case", "mixed_anova", config, exc)
            continue
        inter = aov[aov["Source"] == "Interaction"].iloc[0]
        p_gg = inter["p_GG_corr"] if "p_GG_corr" in aov.columns and np.isfinite(inter.get("p_GG_corr", np.nan)) \
            else inter["p_unc"]
        n_complete = complete["participant"].nunique()
        note = (f"complete cases (n = {n_complete}); arm x visit interaction F({inter['DF1']:g}, "
                f"{inter['DF2']:g}) = {inter['F']:.3f}, Greenhouse-Geisser p = {p_gg:.4g} "
                f"(epsilon {inter['eps']:.3f}); per-visit difference: Welch t")
        cells = pairs[pairs["Contrast"] == "visit * arm"].set_index("visit")

        def estimate_at(visit, complete=complete, cells=cells, note=note):
            at = complete[complete["visit"] == visit]
            treated = at.loc[at["arm"] == treatment, "change"].to_numpy(float)
            control = at.loc[at["arm"] == reference, "change"].to_numpy(float)
            estimate = treated.mean() - control.mean()
            std_error = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
            cell = cells.loc[visit]
            lower, upper = _t_interval(estimate, std_error, cell["dof"], alpha)
            return {"estimate": estimate, "std_error": std_error, "df": cell["dof"], "ci_lower": lower,
                    "ci_upper": upper, "p_value": cell["p_unc"], "note": note}

        rows += _per_visit(outcome, "mixed_anova_complete_case", "mixed_anova", frame, config, estimate_at)
    return _table(rows)


def _complete_cases(frame: pd.DataFrame, visits: list) -> pd.DataFrame:
    """Rows of participants observed at every one of ``visits``, with plain-string labels."""
    counts = frame.groupby("participant", observed=True)["change"].count()
    keep = counts.index[counts == len(visits)]
    complete = frame[frame["participant"].isin(keep)][["participant", "arm", "visit", "change"]].copy()
    for col in ("participant", "arm", "visit"):
        complete[col] = complete[col].astype(str).astype(object)
    return complete.reset_index(drop=True)


# ---- 3. GEE with the Mancl-DeRouen covariance ------------------------------------------
def gee_bias_reduced(analysis: pd.DataFrame, config: dict, outcomes=None) -> pd.DataFrame:
    r"""GEE with exchangeable working correlation and bias-reduced sandwich covariance.

    Marginal model ``change ~ baseline + arm * visit`` (Gaussian, identity link), fitted by
    statsmodels ``GEE`` with an exchangeable working correlation within participant and
    ``cov_type="bias_reduced"``, the Mancl-DeRouen covariance

    .. math::
        \widehat{\mathrm{Var}}(\hat\beta) = B^{-1}\Big[\sum_i D_i'V_i^{-1}(I - H_{ii})^{-1}
        e_ie_i'(I - H_{ii})^{-T}V_i^{-1}D_i\Big]B^{-1},\quad
        B = \sum_i D_i'V_i^{-1}D_i,\quad H_{ii} = D_iB^{-1}D_i'V_i^{-1}.

    The treatment contrast at visit :math:`v` is :math:`c_v'\hat\beta` with :math:`c_v` the
    difference of the design rows of (treatment, :math:`v`) and (reference, :math:`v`), SE
    :math:`\sqrt{c_v'\widehat{\mathrm{Var}}(\hat\beta)c_v}`, and a t reference distribution with
    **N - p degrees of freedom** (N participants in the fit, p mean parameters), as Mancl &
    DeRouen (2001) use for their small-sample Wald tests.

    Parameters
    ----------
    analysis, config, outcomes : as :func:`ancova_complete_case`.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`; ``model`` is ``"gee"``; ``note`` gives the
    estimated exchangeable correlation.

    Notes
    -----
    Consistent whatever the true correlation (the sandwich), but GEE with a working correlation
    needs MCAR for validity under dropout; with about 25 participants the usual sandwich is
    biased downward, which the bias reduction and the N - p df address.

    References
    ----------
    Liang KY, Zeger SL (1986). Longitudinal data analysis using generalized linear models.
    Biometrika 73:13-22.
    Mancl LA, DeRouen TA (2001). A covariance estimator for GEE with improved small-sample
    properties. Biometrics 57:126-134.
    """
    rows = []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)
        try:
            fit = _fit_gee(frame)
        except _FAILURES as exc:
            rows += _failed_rows(outcome, "gee_bias_reduced", "gee", config, exc)
            continue
        rows += _per_visit(outcome, "gee_bias_reduced", "gee", frame, config,
                           lambda visit, frame=frame, fit=fit: _gee_contrast(fit, frame, visit, config))
    return _table(rows)


def _fit_gee(frame: pd.DataFrame):
    model = smf.gee(model_formula(frame), groups="participant", data=frame,
                    cov_struct=sm.cov_struct.Exchangeable(), family=sm.families.Gaussian())
    with warnings.catch_warnings():
        warnings.simplefilter("error", sm.tools.sm_exceptions.ConvergenceWarning)
        try:
            fit = model.fit(cov_type="bias_reduced")
        except sm.tools.sm_exceptions.ConvergenceWarning as exc:
            raise ValueError(f"GEE did not converge ({exc})") from None
    if fit is None or fit.cov_robust_bc is None:
        raise ValueError("GEE: the bias-reduced covariance could not be computed")
    return fit


def _gee_contrast(fit, frame, visit, config) -> dict:
    reference, treatment = _arms(config)
    cells = pd.DataFrame({"baseline": [frame["baseline"].mean()] * 2,
                          "arm": pd.Categorical([treatment, reference], categories=frame["arm"].cat.categories),
                          "visit": pd.Categorical([visit, visit], categories=frame["visit"].cat.categories),
                          "change": [0.0, 0.0]})
    spec = fit.model.data.model_spec  # patsy DesignInfo or formulaic ModelSpec (statsmodels' engine)
    X = np.asarray(spec.get_model_matrix(cells) if hasattr(spec, "get_model_matrix")
                   else build_design_matrices([spec], cells)[0], dtype=float)
    c = X[0] - X[1]
    estimate = float(c @ fit.params.to_numpy())
    std_error = float(np.sqrt(c @ fit.cov_robust_bc @ c))
    n_participants = int(fit.model.num_group)
    df = float(n_participants - len(fit.params))
    if df < 1:
        raise ValueError(f"N - p = {n_participants} - {len(fit.params)} < 1: too few participants for the GEE")
    lower, upper = _t_interval(estimate, std_error, df, config["analysis"]["alpha"])
    rho = float(np.atleast_1d(fit.model.cov_struct.dep_params)[0])
    return {"estimate": estimate, "std_error": std_error, "df": df, "ci_lower": lower, "ci_upper": upper,
            "p_value": 2 * stats.t.sf(abs(estimate / std_error), df),
            "note": f"exchangeable working correlation {rho:.3f}; Mancl-DeRouen covariance; "
                    f"t on N - p = {n_participants} - {len(fit.params)} df"}


# ---- 4. randomization test -------------------------------------------------------------
class _ArmGLS:
    r"""GLS t statistics of the arm effect at each visit for many assignments at once.

    The design of ``change ~ baseline + arm * visit`` spans the same space as
    :math:`[X_0 \mid A]`, :math:`X_0` the design of ``change ~ baseline + visit`` and
    :math:`A_{ij,v} = a_i\,1(\text{visit}_{ij} = v)` (arm effect per visit, cell coding), so
    the arm effect at visit *v* is the coefficient :math:`\delta_v`. With the visit covariance
    :math:`\Sigma` fixed and :math:`Q_i` the inverse of subject *i*'s block of
    :math:`\Sigma` embedded in an m x m zero matrix (computed once per missingness pattern),

    .. math::
        X'V^{-1}X = \begin{pmatrix} S_{00} & \sum_i a_iG_i \\ \cdot & \sum_i a_iQ_i\end{pmatrix},
        \quad X'V^{-1}y = \begin{pmatrix} s_0 \\ \sum_i a_ih_i\end{pmatrix},

    :math:`G_i = X_{0i}'Q_i`, :math:`h_i = Q_iy_i`; by the Schur complement
    :math:`M = \sum a_iQ_i - (\sum a_iG_i)'S_{00}^{-1}(\sum a_iG_i)`,
    :math:`\hat\delta = M^{-1}(\sum a_ih_i - (\sum a_iG_i)'S_{00}^{-1}s_0)`,
    :math:`\mathrm{Var}(\hat\delta) = M^{-1}`: only sums over subjects weighted by the 0/1
    assignment change between draws, one matrix product each for all draws.
    """

    def __init__(self, frame: pd.DataFrame, participants: np.ndarray, X0: np.ndarray, sigma: np.ndarray):
        m = sigma.shape[0]
        n, p0 = len(participants), X0.shape[1]
        subject = pd.Categorical(frame["participant"], categories=participants).codes
        if (subject < 0).any():
            raise ValueError("the model frame has participants that are not in the analysis table")
        visit = np.asarray(frame["visit"].cat.codes, dtype=np.int64)
        Xp = np.zeros((n, m, p0))
        yp = np.zeros((n, m))
        observed = np.zeros((n, m), dtype=bool)
        Xp[subject, visit] = X0
        yp[subject, visit] = frame["change"].to_numpy(float)
        observed[subject, visit] = True
        Q = np.zeros((n, m, m))
        masks, inverse = np.unique(observed, axis=0, return_inverse=True)
        for k, mask in enumerate(masks):
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue  # participants with no post-baseline change carry no information
            linv = np.linalg.inv(np.linalg.cholesky(sigma[np.ix_(idx, idx)]))  # whiten once per pattern
            block = np.zeros((m, m))
            block[np.ix_(idx, idx)] = linv.T @ linv
            Q[inverse.ravel() == k] = block
        G = np.einsum("nvp,nvw->npw", Xp, Q)  # X0_i' Q_i
        self.m, self.p0 = m, p0
        self.Q = Q.reshape(n, m * m)
        self.G = G.reshape(n, p0 * m)
        self.h = np.einsum("nvw,nw->nv", Q, yp)
        self.observed = observed.astype(float)
        S00 = np.einsum("npw,nwq->pq", G, Xp)
        s0 = np.einsum("npw,nw->p", G, yp)
        self.S00_inv = np.linalg.inv(S00)
        self.b0 = self.S00_inv @ s0

    def statistics(self, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(delta, t), each (draws, m), for 0/1 assignments (draws, participants); NaN where an
        assignment leaves a visit without an observed participant in one arm."""
        T = np.atleast_2d(np.asarray(assignment, dtype=float))
        d, m, p0 = T.shape[0], self.m, self.p0
        treated = T @ self.observed
        control = (1.0 - T) @ self.observed
        valid = np.all((treated > 0) & (control > 0), axis=1)
        SAA = (T @ self.Q).reshape(d, m, m)
        S0A = (T @ self.G).reshape(d, p0, m)
        M = SAA - np.einsum("dpm,pq,dqk->dmk", S0A, self.S00_inv, S0A)
        r = T @ self.h - np.einsum("dpm,p->dm", S0A, self.b0)
        M[~valid] = np.eye(m)
        try:
            Minv = np.linalg.inv(M)
        except np.linalg.LinAlgError:  # a rank-deficient draw: fall back to one at a time
            Minv = np.empty_like(M)
            for i in range(d):
                try:
                    Minv[i] = np.linalg.inv(M[i])
                except np.linalg.LinAlgError:
                    Minv[i], valid[i] = np.eye(m), False
        delta = np.einsum("dmk,dk->dm", Minv, r)
        se = np.sqrt(np.clip(np.diagonal(Minv, axis1=1, axis2=2), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = delta / se
        delta[~valid], t[~valid] = np.nan, np.nan
        return delta, t


def _randomization_stream(seed: int, outcome: str) -> np.random.Generator:
    """The randomization test's own child of ``SeedSequence(seed)``: spawn key (purpose, outcome)
    as CRC-32 of their names, so other analyses' streams and the outcome order do not matter."""
    key = (zlib.crc32(b"pilottrial.sensitivity.randomization_test"), zlib.crc32(outcome.encode("utf-8")))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _randomization_p(analysis: pd.DataFrame, frame: pd.DataFrame, outcome: str, config: dict,
                     chunk_done=None) -> dict:
    """The randomization test of one outcome (see :func:`randomization_test`): observed GLS t
    and Monte Carlo p by visit label, the null model's structure and formula, and the number of
    draws whose statistic was undefined."""
    a = config["analysis"]
    draws = int(a["randomization_draws"])
    treatment = config["arms"]["treatment"]
    randomized = (analysis[["participant", "arm"]].drop_duplicates("participant")
                  .sort_values("participant", key=lambda s: s.astype(str)))
    participants = randomized["participant"].to_numpy()
    observed = (randomized["arm"].astype(str).to_numpy() == str(treatment)).astype(float)
    formula = NULL_FORMULA if len(frame["visit"].cat.categories) > 1 else "change ~ baseline"
    null_fit = fit_mmrm(frame, formula, subject="participant", visit="visit", covariance=a["covariance"],
                        fallback=a.get("fallback"), method="reml", df_method="residual")
    gls = _ArmGLS(frame, participants, null_fit.design(frame), null_fit.sigmas[0])
    t_obs = gls.statistics(observed[None, :])[1][0]
    rng = _randomization_stream(int(a["seed"]), outcome)
    extreme = np.zeros(gls.m)
    undefined = 0
    for start in range(0, draws, _DRAW_CHUNK):
        size = min(_DRAW_CHUNK, draws - start)
        # each row a permutation of the observed labels: the observed allocation ratio
        assignment = rng.permuted(np.broadcast_to(observed, (size, observed.size)), axis=1)
        t_star = gls.statistics(assignment)[1]
        bad = ~np.isfinite(t_star)
        undefined += int(bad.any(axis=1).sum())
        with np.errstate(invalid="ignore"):  # ties (up to rounding) count as extreme
            extreme += np.sum(bad | (np.abs(t_star) >= np.abs(t_obs) * (1 - 1e-10)), axis=0)
        if chunk_done is not None:
            chunk_done(size)
    visits = [str(v) for v in frame["visit"].cat.categories]
    return {"t_observed": dict(zip(visits, t_obs.tolist())),
            "p_value": dict(zip(visits, ((1.0 + extreme) / (1.0 + draws)).tolist())),
            "structure": null_fit.structure, "formula": formula, "undefined": undefined}


def randomization_test(analysis: pd.DataFrame, config: dict, outcomes=None, progress=None) -> pd.DataFrame:
    r"""Monte Carlo re-randomization test of the MMRM treatment contrast at each key visit.

    Statistic: the GLS t statistic of the arm effect at visit *v* in
    ``change ~ baseline + arm * visit``, with the visit covariance :math:`\hat\Sigma` estimated
    **once**, by REML under the null model ``change ~ baseline + visit`` (structure
    ``analysis.covariance``, unstructured by default, with ``analysis.fallback``). The null
    model does not involve the arm labels, so :math:`\hat\Sigma` is the same for every
    re-randomization and the statistic is a fixed function of (data, assignment).

    Re-randomization: ``analysis.randomization_draws`` permutations of the observed arm labels
    over all randomized participants (the observed allocation: same numbers per arm), drawn
    from the generator of :func:`_randomization_stream` (a child of
    ``SeedSequence(analysis.seed)``); the same draws serve every key visit of an outcome.
    Two-sided Monte Carlo p-value (Phipson & Smyth 2010)

    .. math:: p = \frac{1 + \#\{b : |t^*_b| \ge |t_{obs}|\}}{1 + B}.

    A draw that leaves a visit without an observed participant in one arm counts as extreme
    (conservative; reported in ``note`` if any). Under the sharp null (treatment changes no
    participant's outcomes, missingness included) the test is exact whatever the distribution
    of the data and the truth of the covariance model.

    Parameters
    ----------
    analysis, config, outcomes : as :func:`ancova_complete_case`.
    progress : optional callable, called with the cumulative number of draws done (over the
        outcomes of this call; the total is ``randomization_draws x len(outcomes)``) after each
        chunk of draws.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`: ``estimate``, ``std_error``, ``df``,
    ``ci_lower``, ``ci_upper`` of the primary MMRM (:func:`pilottrial.models.primary.fit_outcome_mmrm`),
    ``p_value`` the randomization p; ``model`` is ``"mmrm"``; ``note`` names the method, draws,
    seed and the observed GLS t.

    References
    ----------
    Edgington ES, Onghena P (2007). Randomization Tests, 4th ed. Chapman & Hall/CRC.
    Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials, 2nd ed. Wiley, ch. 6.
    Phipson B, Smyth GK (2010). Permutation p-values should never be zero. Stat Appl Genet
    Mol Biol 9:39.
    """
    a = config["analysis"]
    draws, seed = int(a["randomization_draws"]), int(a["seed"])
    done, rows = 0, []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)

        def chunk_done(size):
            nonlocal done
            done += size
            if progress is not None:
                progress(done)

        try:
            mmrm = fit_outcome_mmrm(analysis, outcome, config)
            test = _randomization_p(analysis, frame, outcome, config, chunk_done)
        except _FAILURES as exc:
            rows += _failed_rows(outcome, "randomization_test", "mmrm", config, exc)
            continue
        base_note = (f"Monte Carlo re-randomization p ({draws} permutations of the arm labels, seed {seed}) "
                     f"of the GLS t with the {test['structure']} covariance of the null model "
                     f"{test['formula']}; estimate and CI from the MMRM ({mmrm.structure})")
        if test["undefined"]:
            base_note += f"; {test['undefined']} draws with a visit lacking one arm counted as extreme"
        for row in _contrast_rows(mmrm, outcome, "randomization_test", "mmrm", config, base_note):
            if row["visit"] in test["p_value"]:
                t_obs = test["t_observed"][row["visit"]]
                if np.isfinite(t_obs):
                    row["p_value"] = test["p_value"][row["visit"]]
                    row["note"] = f"{base_note}; observed t = {t_obs:.3f}"
                else:
                    row["p_value"] = np.nan
                    row["note"] = f"not estimable: the observed GLS statistic is undefined at {row['visit']}"
            rows.append(row)
    return _table(rows)


# ---- 5. Mann-Whitney and Hodges-Lehmann ------------------------------------------------
def mann_whitney(analysis: pd.DataFrame, config: dict, outcomes=None) -> pd.DataFrame:
    r"""Mann-Whitney (Wilcoxon rank-sum) test of change at each key visit, with the
    Hodges-Lehmann shift.

    ``scipy.stats.mannwhitneyu(treatment, reference, alternative="two-sided")`` with scipy's
    defaults (exact for small samples without ties, else the normal approximation with tie and
    continuity corrections) on the participants observed at the visit; the estimate and
    interval are the Hodges-Lehmann shift of treatment minus reference and its
    distribution-free interval (:func:`hodges_lehmann`) at level ``1 - analysis.alpha``.

    Parameters
    ----------
    analysis, config, outcomes : as :func:`ancova_complete_case`.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`; ``model`` is ``"hodges_lehmann"``;
    ``std_error`` and ``df`` are NaN (no such quantities for a rank method); ``note`` gives U,
    the sample sizes and the attained coverage of the interval.

    Notes
    -----
    No baseline adjustment; the shift model :math:`F_T(x) = F_R(x - \Delta)` is the one under
    which :math:`\Delta` is the difference in location.

    References
    ----------
    Mann HB, Whitney DR (1947). On a test of whether one of two random variables is
    stochastically larger than the other. Ann Math Stat 18:50-60.
    Hodges JL, Lehmann EL (1963). Ann Math Stat 34:598-611.
    Hollander M, Wolfe DA (1999). Nonparametric Statistical Methods, 2nd ed. Wiley, ch. 4.
    """
    reference, treatment = _arms(config)
    alpha = config["analysis"]["alpha"]
    rows = []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)

        def estimate_at(visit, frame=frame):
            at = frame[frame["visit"] == visit]
            treated = at.loc[at["arm"] == treatment, "change"].to_numpy(float)
            control = at.loc[at["arm"] == reference, "change"].to_numpy(float)
            if treated.size == 0 or control.size == 0:
                raise ValueError(f"one arm has no observation at {visit}")
            test = stats.mannwhitneyu(treated, control, alternative="two-sided")
            hl = hodges_lehmann(treated, control, alpha=alpha)
            tied = np.unique(np.r_[treated, control]).size < treated.size + control.size
            ties = " (tied values: coverage approximate)" if tied else ""
            return {"estimate": hl["estimate"], "ci_lower": hl["ci_lower"], "ci_upper": hl["ci_upper"],
                    "p_value": test.pvalue,
                    "note": f"U = {test.statistic:g}, n = {treated.size} vs {control.size}; Hodges-Lehmann "
                            f"shift, order-statistic interval of attained coverage {hl['coverage']:.4f}{ties}"}

        rows += _per_visit(outcome, "mann_whitney", "hodges_lehmann", frame, config, estimate_at)
    return _table(rows)


# ---- 6. random-intercept LMM ------------------------------------------------------------
def lmm_random_intercept(analysis: pd.DataFrame, config: dict, outcomes=None) -> pd.DataFrame:
    r"""Linear mixed model with a random participant intercept (the primary analysis' LMM).

    :func:`pilottrial.models.primary.fit_outcome_lmm`: ``change ~ baseline + arm * visit`` with
    :math:`y_i = X_i\beta + 1u_i + \varepsilon_i`, :math:`u_i \sim N(0, \sigma_u^2)`,
    :math:`\varepsilon_i \sim N(0, \sigma^2 I)`, REML (statsmodels ``MixedLM``), fixed-effect
    covariance :math:`(X'V^{-1}X)^{-1}` and Satterthwaite df.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`; ``model`` is ``"lmm"``. An outcome measured at a
    single post-baseline visit, or a zero random-intercept variance, gives rows of NaN.

    References
    ----------
    Laird NM, Ware JH (1982). Random-effects models for longitudinal data. Biometrics 38:963-974.
    """
    rows = []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)
        if len(frame["visit"].cat.categories) < 2:
            rows += _failed_rows(outcome, "lmm_random_intercept", "lmm", config,
                                 f"{outcome} is measured at one post-baseline visit; "
                                 f"a random intercept is not identified")
            continue
        try:
            fit = fit_outcome_lmm(analysis, outcome, config)
            rows += _contrast_rows(fit, outcome, "lmm_random_intercept", "lmm", config,
                                   f"random intercept (MixedLM, REML): sigma_u^2 = {fit.phi[0]:.4g}, "
                                   f"sigma^2 = {fit.phi[1]:.4g}; Satterthwaite df")
        except _FAILURES as exc:
            rows += _failed_rows(outcome, "lmm_random_intercept", "lmm", config, exc)
    return _table(rows)


# ---- 7. MMRM with other covariance structures -------------------------------------------
def mmrm_structures(analysis: pd.DataFrame, config: dict, outcomes=None, structures=None) -> pd.DataFrame:
    r"""The primary MMRM refitted with each covariance structure of ``analysis.sensitivity_structures``.

    ``change ~ baseline + arm * visit``, REML, ``analysis.df_method`` degrees of freedom, as
    :func:`pilottrial.models.primary.fit_outcome_mmrm` but with the structure fixed (**no fallback**):
    a structure that does not converge, or whose Hessian is not positive definite, gives rows
    of NaN with the reason in ``note``.

    Parameters
    ----------
    analysis, config, outcomes : as :func:`ancova_complete_case`.
    structures : structure names; default ``analysis.sensitivity_structures``.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS`; ``analysis`` is ``mmrm_<structure>``,
    ``model`` is ``"mmrm"``; ``note`` gives -2 REML log-likelihood and AIC.

    References
    ----------
    Wolfinger RD (1993). Covariance structure selection in general mixed models. Commun Stat
    Simul Comput 22:1079-1106.
    Mallinckrodt CH et al. (2008). Recommendations for the primary analysis of continuous
    endpoints in longitudinal clinical trials. Drug Inf J 42:303-319.
    """
    a = config["analysis"]
    structures = list(a["sensitivity_structures"] if structures is None else structures)
    rows = []
    for outcome in _efficacy_outcomes(config, outcomes):
        frame = model_frame(analysis, outcome, config)
        for structure in structures:
            name = f"mmrm_{structure}"
            try:
                fit = fit_mmrm(frame, model_formula(frame), subject="participant", visit="visit",
                               covariance=structure, fallback=None, method="reml", df_method=a["df_method"])
                rows += _contrast_rows(fit, outcome, name, "mmrm", config,
                                       f"{structure} covariance, REML, {fit.df_method} df; -2 REML log-likelihood "
                                       f"{fit.neg2_loglik:.3f}, AIC {fit.aic:.3f}")
            except _FAILURES as exc:
                rows += _failed_rows(outcome, name, "mmrm", config, exc)
    return _table(rows)


# ---- all of them -------------------------------------------------------------------------
def sensitivity_analyses(analysis: pd.DataFrame, config: dict, progress=None) -> pd.DataFrame:
    """Every sensitivity analysis of every efficacy outcome at every key visit.

    Analyses, in this order: ``ancova_complete_case``, ``mixed_anova_complete_case``,
    ``gee_bias_reduced``, ``randomization_test``, ``mann_whitney``, ``lmm_random_intercept``,
    then ``mmrm_<structure>`` for each of ``analysis.sensitivity_structures``.

    Parameters
    ----------
    analysis : the analysis table of :func:`pilottrial.data.ingest.load_trial`.
    config : the validated config.
    progress : optional callable given to :func:`randomization_test`.

    Returns
    -------
    DataFrame with :data:`SENSITIVITY_COLUMNS` (``outcome, model, visit, estimate, std_error,
    df, ci_lower, ci_upper, p_value, analysis, note``), one row per analysis x efficacy outcome x
    key visit, sorted by outcome (config order), analysis (the order above), visit (visit
    order). Estimates are treatment minus reference in change from baseline. NaN
    ``std_error``/``df`` for ``mann_whitney`` (rank method); other NaNs only in rows whose
    ``note`` starts with "not estimable".
    """
    tables = [ancova_complete_case(analysis, config), mixed_anova_complete_case(analysis, config),
              gee_bias_reduced(analysis, config), randomization_test(analysis, config, progress=progress),
              mann_whitney(analysis, config), lmm_random_intercept(analysis, config),
              mmrm_structures(analysis, config)]
    table = pd.concat(tables, ignore_index=True)
    order = {
        "outcome": [o["name"] for o in config["outcomes"]],
        "analysis": list(FIXED_ANALYSES) + [f"mmrm_{s}" for s in config["analysis"]["sensitivity_structures"]],
        "visit": list(config["visits"]["order"]),
    }
    keys = pd.DataFrame({col: pd.Categorical(table[col], categories=list(dict.fromkeys(levels))).codes
                         for col, levels in order.items()})
    table = table.iloc[np.lexsort((keys["visit"], keys["analysis"], keys["outcome"]))].reset_index(drop=True)
    return table[SENSITIVITY_COLUMNS]
