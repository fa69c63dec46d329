"""Fitting the MMRM: formula -> design, optimisation with fallbacks, and the results object."""

from __future__ import annotations

import numpy as np
import pandas as pd
from formulaic import Formula
from threadpoolctl import threadpool_limits

from pilottrial.models.mmrm.inference import kenward_roger_setup, numerical_hessian
from pilottrial.models.mmrm.likelihood import NotPositiveDefinite, PatternData
from pilottrial.models.mmrm.optimise import OPTIMIZERS, empirical_covariances, optimise
from pilottrial.models.mmrm.results import MMRMError, MMRMFit
from pilottrial.models.mmrm.structures import CovarianceModel, get_structure, parameter_gradient

__all__ = ["fit_mmrm", "mmrm_at", "MMRMFit", "MMRMError", "DF_METHODS", "OPTIMIZERS"]

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual")


def fit_mmrm(data: pd.DataFrame, formula: str, subject: str, visit: str, covariance="us",
             method: str = "reml", df_method: str = "satterthwaite", group: str | None = None,
             visit_levels=None, fallback=None, optimizers=OPTIMIZERS) -> MMRMFit:
    r"""Fit a mixed model for repeated measures (MMRM) by REML or ML.

    .. math::
        y_{ij} = x_{ij}'\beta + \varepsilon_{ij},\qquad
        \varepsilon_i = (\varepsilon_{i1}, \dots, \varepsilon_{im})' \sim N(0, \Sigma_{g(i)}),

    with the residuals of subject *i* correlated across its visits, :math:`\Sigma` structured as
    ``covariance`` (optionally one matrix per level of ``group``). Rows with a missing response
    or covariate are dropped: the likelihood uses every observed visit (valid under MAR).

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject x visit.
    formula : str
        Wilkinson formula of the fixed effects, e.g. ``"FEV1 ~ RACE + ARMCD * AVISIT"``.
        Categorical columns use treatment coding; the first category of a pandas Categorical
        (else the first sorted level) is the reference.
    subject, visit : str
        Columns of the subject and the visit; the visit order is the Categorical order (else
        sorted) or ``visit_levels``.
    covariance : str or list of str, default "us"
        ``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``, ``toeph``, ``ad``, ``adh``
        (:data:`~pilottrial.models.mmrm.STRUCTURES`); a list is tried in order.
    method : {"reml", "ml"}
    df_method : {"satterthwaite", "kenward-roger", "kenward-roger-linear", "residual"}
    group : str, optional
        Column whose levels get a covariance matrix each (SAS ``GROUP=``).
    visit_levels : list, optional
        The visits in order (default from ``data[visit]``).
    fallback : list of str, optional
        Structures to try in order if ``covariance`` does not converge, e.g.
        ``["toeph", "ar1", "cs"]``; the structure used is ``fit.structure`` and the failed
        attempts are in ``fit.attempts``.
    optimizers : tuple of str
        Optimisers tried in order for each structure (default Fisher scoring, BFGS, L-BFGS-B,
        Powell).

    Returns
    -------
    MMRMFit
        Estimates, LS-means, contrasts and tests (:class:`~pilottrial.models.mmrm.MMRMFit`).

    Raises
    ------
    MMRMError
        When no structure of the chain converges, the design is rank deficient, or the data do
        not fit the model (missing columns, duplicated subject x visit rows); the message says
        what to change.

    Notes
    -----
    Fixed-effect covariance :math:`\Phi = (X'V^{-1}X)^{-1}` at the estimate; Satterthwaite df
    of a contrast :math:`c'\beta`: :math:`\nu = 2(c'\Phi c)^2 / (g'Ag)` with
    :math:`g = \partial(c'\Phi c)/\partial\phi` and :math:`A` twice the inverse Hessian of
    :math:`-2\ell` in SAS's covariance parameters :math:`\phi` (Satterthwaite 1946; Fai &
    Cornelius 1996). Kenward-Roger: the adjusted covariance and df of Kenward & Roger (1997).
    Validated against SAS PROC MIXED (tests/test_mmrm_sas.py) and R nlme/emmeans
    (tests/test_r_parity.py).

    References
    ----------
    Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP (2008). Recommendations for the
    primary analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J
    42:303-319.
    Fai AH-T, Cornelius PL (1996). Approximate F-tests of multiple degree of freedom hypotheses
    in generalized least squares analyses of unbalanced split-plot experiments. J Stat Comput
    Simul 54:363-378.
    Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted
    maximum likelihood. Biometrics 53:983-997.

    Examples
    --------
    >>> from pilottrial.models.mmrm.simulate import simulate_trial
    >>> data = simulate_trial(80, seed=1)
    >>> fit = fit_mmrm(data, "Y ~ BASE + ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", covariance="us")
    >>> fit.structure, fit.n_subjects, fit.n_obs
    ('us', 80, 299)
    >>> fit.treatment_contrasts("ARMCD", "PBO", "TRT").round(2)[["visit", "estimate", "std_error", "df"]]
      visit  estimate  std_error     df
    0  VIS1      0.73       0.41  77.11
    1  VIS2      1.60       0.54  77.93
    2  VIS3      2.29       0.71  77.29
    3  VIS4      2.84       0.69  76.15
    >>> fit.covariance.round(1)
          VIS1  VIS2  VIS3  VIS4
    VIS1   3.4   3.1   3.7   2.7
    VIS2   3.1   5.7   5.0   3.6
    VIS3   3.7   5.0   9.5   6.5
    VIS4   2.7   3.6   6.5   8.6
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_mmrm(data, formula, subject, visit, covariance, method, df_method, group,
                         visit_levels, fallback, optimizers)


def _fit_mmrm(data, formula, subject, visit, covariance, method, df_method, group, visit_levels,
              fallback, optimizers):
    # The work is many small matrix products: BLAS threads only contend (up to 50x slower on a
    # busy 2-core machine), hence one BLAS thread while fitting.
    method, df_method = _check_methods(method, df_method)
    chain = [covariance] if isinstance(covariance, str) else list(covariance)
    chain += list(fallback or [])
    model = _Model(data, formula, subject, visit, group, visit_levels)
    reml = method == "reml"
    attempts = []
    for name in chain:
        spec = CovarianceModel(get_structure(name), len(model.visit_levels), len(model.groups))
        result = optimise(model.patterns, spec, model.start_covariances, reml, optimizers, attempts)
        if result is None:
            continue
        theta, optimizer_used = result
        fit = _build_fit(model, spec, spec.theta_to_phi(theta), method, df_method, optimizer_used, attempts)
        if fit is not None:
            return fit
    tried = "; ".join(f"{a['structure']}/{a['optimizer']}: {a['message']}" for a in attempts)
    raise MMRMError(f"the MMRM did not converge with any covariance structure in {chain} ({tried}). "
                    f"Add a simpler structure to the fallback chain (e.g. 'cs')")


def mmrm_at(data: pd.DataFrame, formula: str, subject: str, visit: str, covariance: str, phi,
            method: str = "reml", df_method: str = "satterthwaite", group: str | None = None,
            visit_levels=None) -> MMRMFit:
    """The MMRM results object at given covariance parameters ``phi`` (SAS parameterisation),
    without optimising: used to give another fitter's estimate (for example the random-intercept
    LMM of statsmodels, whose marginal covariance is ``cs``: :func:`pilottrial.models.lmm.fit_lmm`)
    the same small-sample inference. Arguments as :func:`fit_mmrm`."""
    method, df_method = _check_methods(method, df_method)
    with threadpool_limits(limits=1, user_api="blas"):
        model = _Model(data, formula, subject, visit, group, visit_levels)
        spec = CovarianceModel(get_structure(covariance), len(model.visit_levels), len(model.groups))
        fit = _build_fit(model, spec, np.asarray(phi, dtype=float), method, df_method, "given", [])
    if fit is None:
        raise MMRMError("the Hessian of the likelihood is not positive definite at the given parameters")
    return fit


def _check_methods(method, df_method):
    method = method.lower()
    if method not in ("reml", "ml"):
        raise MMRMError(f"method must be 'reml' or 'ml', not {method!r}")
    df_method = df_method.lower().replace("_", "-")
    aliases = {"kr": "kenward-roger", "kr-linear": "kenward-roger-linear", "kr1": "kenward-roger-linear"}
    df_method = aliases.get(df_method, df_method)
    if df_method not in DF_METHODS:
        raise MMRMError(f"df_method must be one of {DF_METHODS}, not {df_method!r}")
    return method, df_method


class _Model:
    """Model frame, design matrix and missingness patterns of one MMRM specification."""

    def __init__(self, data, formula, subject, visit, group, visit_levels):
        formula_obj, frame, factors, numerics, visit_levels = _prepare(data, formula, subject, visit,
                                                                       group, visit_levels)
        if frame[subject].nunique() < 2:
            raise MMRMError("the model needs at least two subjects with data")
        model_matrix = formula_obj.get_model_matrix(frame)
        y = np.asarray(model_matrix.lhs, dtype=float).ravel()
        X = np.asarray(model_matrix.rhs, dtype=float)
        terms = list(model_matrix.rhs.columns)
        rank = np.linalg.matrix_rank(X)
        if rank < X.shape[1]:
            _, r = np.linalg.qr(X)
            aliased = [terms[j] for j in range(X.shape[1]) if abs(r[j, j]) < 1e-8 * abs(r).max()]
            raise MMRMError(f"the design is rank deficient (rank {rank} < {X.shape[1]} columns); "
                            f"terms not estimable from these data: {aliased}. Drop or merge them "
                            f"(for example a visit with no observations in one arm)")
        visit_code = pd.Categorical(frame[visit], categories=visit_levels).codes
        groups = [None]
        group_code = np.zeros(len(frame), dtype=np.int64)
        if group:
            groups = _categorical_levels(frame[group])
            group_code = pd.Categorical(frame[group], categories=groups).codes.astype(np.int64)
        self.formula, self.frame, self.factors, self.numerics = formula, frame, factors, numerics
        self.subject, self.response = subject, formula.split("~")[0].strip()
        self.n_subjects_input = int(data[subject].nunique())
        self.visit, self.visit_levels, self.groups, self.terms = visit, visit_levels, groups, terms
        self.model_spec = model_matrix.rhs.model_spec
        self.n_obs = len(y)
        subject_code = pd.factorize(frame[subject], sort=True)[0]
        visit_code = np.asarray(visit_code, dtype=np.int64)
        self.patterns = PatternData(y, X, subject_code, visit_code, group_code, len(visit_levels), len(groups))
        ols_resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        self.start_covariances = empirical_covariances(subject_code, visit_code, ols_resid, group_code,
                                                        len(visit_levels), len(groups))


def _categorical_levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [c for c in series.cat.categories if c in set(series.dropna())]
    return sorted(series.dropna().unique(), key=str)


def _prepare(data, formula, subject, visit, group, visit_levels):
    formula_obj = Formula(formula)
    lhs = [str(v) for v in formula_obj.lhs.required_variables]
    rhs = sorted(str(v) for v in formula_obj.rhs.required_variables)
    needed = list(dict.fromkeys(lhs + rhs + [subject, visit] + ([group] if group else [])))
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise MMRMError(f"columns {missing} named in the model are not in the data")
    frame = data[needed].dropna().copy()
    if frame.empty:
        raise MMRMError("no complete rows: every row misses the outcome or a covariate")
    factors, numerics = {}, {}
    for name in rhs:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col) or pd.api.types.is_bool_dtype(col):
            levels = _categorical_levels(data[name]) if isinstance(data[name].dtype, pd.CategoricalDtype) else _categorical_levels(col)
            levels = [lv for lv in levels if lv in set(col)]
            frame[name] = pd.Categorical(col, categories=levels)
            factors[name] = levels
        else:
            numerics[name] = float(col.mean())
    if visit_levels is None:
        visit_levels = (list(data[visit].cat.categories) if isinstance(data[visit].dtype, pd.CategoricalDtype)
                        else sorted(frame[visit].unique(), key=str))
    visit_levels = [v for v in visit_levels if v in set(frame[visit])]
    dup = frame.duplicated([subject, visit])
    if dup.any():
        first = frame.loc[dup, [subject, visit]].iloc[0]
        raise MMRMError(f"{int(dup.sum())} duplicated {subject} x {visit} rows (first: {first[subject]!r} at "
                        f"{first[visit]!r}); the model needs one row per subject and visit")
    return formula_obj, frame, factors, numerics, visit_levels


def _build_fit(model, spec, phi, method, df_method, optimizer_used, attempts):
    """Evaluate at ``phi`` and assemble the results; None if the Hessian is not positive definite."""
    reml = method == "reml"
    data_patterns = model.patterns
    evaluation = data_patterns.evaluate(spec.sigmas_phi(phi), reml=reml, gradient=True)

    def grad_phi(p):
        ev = data_patterns.evaluate(spec.sigmas_phi(p), reml=reml, gradient=True)
        return parameter_gradient(spec.jac_phi(p), ev.G)

    gradient = parameter_gradient(spec.jac_phi(phi), evaluation.G)
    # found by the optimiser (max |gradient| < 1e-4 per observation), or given: at a stationary point
    converged = optimizer_used != "given" or bool(np.max(np.abs(np.real(gradient)), initial=0.0) / model.n_obs < 1e-4)
    try:
        hessian = numerical_hessian(grad_phi, phi, gradient)
        eig = np.linalg.eigvalsh(hessian)
    except NotPositiveDefinite:
        eig = np.array([-1.0])
    if not np.all(eig > 1e-8 * max(1.0, np.abs(eig).max())):
        attempts.append({"structure": spec.structure.name, "optimizer": optimizer_used,
                         "message": "Hessian not positive definite at the optimum (boundary or non-identifiable)"})
        return None
    phi_vcov = 2.0 * np.linalg.inv(hessian)
    kr = None
    vcov = evaluation.vcov_beta
    if df_method.startswith("kenward-roger"):
        kr = kenward_roger_setup(data_patterns, evaluation, spec, phi, phi_vcov,
                                 linear=df_method.endswith("linear"))
        vcov = kr["vcov_adjusted"]
    n_visits = len(model.visit_levels)
    fit = MMRMFit(
        formula=model.formula, structure=spec.structure.name, method=method, df_method=df_method,
        terms=model.terms, beta=evaluation.beta, vcov=vcov, vcov_unadjusted=evaluation.vcov_beta,
        phi=phi, phi_names=[n for _ in model.groups for n in spec.structure.phi_names(n_visits)],
        phi_vcov=phi_vcov, neg2_loglik=evaluation.neg2ll, n_obs=model.n_obs,
        n_subjects=data_patterns.n_subjects, n_subjects_input=model.n_subjects_input,
        visits=list(model.visit_levels), groups=model.groups,
        sigmas=[np.real(s) for s in spec.sigmas_phi(phi)], converged=converged, optimizer=optimizer_used,
        attempts=attempts, _data=data_patterns, _spec=spec, _evaluation=evaluation,
        _model_spec=model.model_spec, _frame=model.frame, _factors=model.factors,
        _numerics=model.numerics, _kr=kr, subject=model.subject, response=model.response,
        visit_name=model.visit,
    )
    return fit
