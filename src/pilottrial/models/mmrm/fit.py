"""Fitting the MMRM: formula -> design, optimisation along a fallback chain of covariance
structures (each checked for identifiability and given a budget), and the results object."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pilottrial.models.mmrm.design import ModelData
from pilottrial.models.mmrm.identifiability import identifiability_problem
from pilottrial.models.mmrm.inference import kenward_roger_setup, observed_information
from pilottrial.models.mmrm.likelihood import one_blas_thread
from pilottrial.models.mmrm.optimise import (
    MAX_EVALUATIONS,
    MAX_SECONDS,
    OPTIMIZERS,
    PROGRESS_AFTER,
    Budget,
    optimise,
)
from pilottrial.models.mmrm.results import MMRMError, MMRMFit
from pilottrial.models.mmrm.structures import CovarianceModel, get_structure, parameter_gradient

__all__ = ["fit_mmrm", "mmrm_at", "build_fit", "check_methods", "MMRMFit", "MMRMError", "DF_METHODS", "OPTIMIZERS"]

logger = logging.getLogger("pilottrial.models.mmrm")

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual")


def fit_mmrm(data: pd.DataFrame, formula: str, subject: str, visit: str, covariance="us",
             method: str = "reml", df_method: str = "satterthwaite", group: str | None = None,
             visit_levels=None, fallback=None, optimizers=OPTIMIZERS, max_evaluations: int | None = MAX_EVALUATIONS,
             max_seconds: float | None = MAX_SECONDS, label: str | None = None) -> MMRMFit:
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
    max_evaluations : int or None, default 1000
        Budget of one structure: likelihood evaluations over all its optimisers and starts (a
        converging fit takes 10 to 100); when spent, the next structure of the chain is tried.
        None: no limit.
    max_seconds : float or None, default 120
        Budget of one structure in seconds (a safety net for very large trials). None: no limit.
    label : str, optional
        Names the model in progress messages and errors (e.g. the outcome).

    Returns
    -------
    MMRMFit
        Estimates, LS-means, contrasts and tests (:class:`~pilottrial.models.mmrm.MMRMFit`).

    Raises
    ------
    MMRMError
        When no structure of the chain converges, the design is rank deficient, or the data do
        not fit the model (missing columns, duplicated subject x visit rows); the message says
        why each structure was not used and what to change.

    Notes
    -----
    Before a structure is fitted, its identifiability is checked
    (:func:`~pilottrial.models.mmrm.identifiability.identifiability_problem`: parameters vs
    residual degrees of freedom, an unstructured matrix vs participants, visits and pairs of
    visits observed); a structure that cannot be estimated is skipped with the reason. Each
    structure then has a budget (``max_evaluations``, ``max_seconds``). ``fit.attempts`` lists
    every structure skipped, optimiser failed or budget spent (``structure``, ``optimizer``,
    ``message`` and ``status``: ``skipped``, ``failed`` or ``stopped``); ``fit.notes`` says in words which structure was used and why the
    earlier ones were not. A fit taking more than a few seconds logs its progress
    (``logging`` logger ``pilottrial.models.mmrm``, INFO).

    Fixed-effect covariance :math:`\Phi = (X'V^{-1}X)^{-1}` at the estimate; Satterthwaite df
    of a contrast :math:`c'\beta`: :math:`\nu = 2(c'\Phi c)^2 / (g'Ag)` with
    :math:`g = \partial(c'\Phi c)/\partial\phi` and :math:`A` twice the inverse of the
    (analytic, observed) Hessian of :math:`-2\ell` in SAS's covariance parameters :math:`\phi`
    (:func:`~pilottrial.models.mmrm.inference.observed_information`; Satterthwaite 1946; Fai &
    Cornelius 1996). Kenward-Roger: the adjusted covariance and df of Kenward & Roger (1997).
    Validated against SAS PROC MIXED (tests/models/test_mmrm_sas.py) and R nlme/emmeans
    (tests/models/test_primary_r_parity.py).

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
    with one_blas_thread():
        return _fit_mmrm(data, formula, subject, visit, covariance, method, df_method, group,
                         visit_levels, fallback, optimizers, max_evaluations, max_seconds, label)


def _fit_mmrm(data, formula, subject, visit, covariance, method, df_method, group, visit_levels,
              fallback, optimizers, max_evaluations, max_seconds, label):
    # The work is many small matrix products: BLAS threads only contend (up to 50x slower on a
    # busy 2-core machine), hence one BLAS thread while fitting.
    method, df_method = check_methods(method, df_method)
    chain = [covariance] if isinstance(covariance, str) else list(covariance)
    chain = list(dict.fromkeys(s.lower() for s in chain + list(fallback or [])))
    model = ModelData(data, formula, subject, visit, group, visit_levels)
    reml = method == "reml"
    name_of_fit = f"{label + ' ' if label else ''}MMRM"
    attempts, notes = [], []
    for name in chain:
        spec = CovarianceModel(get_structure(name), len(model.visit_levels), len(model.groups))
        problem = identifiability_problem(name, spec.k, model.X, model.subject_code, model.visit_code,
                                          model.group_code, model.visit_levels, model.groups)
        if problem:
            attempts.append({"structure": name, "optimizer": None, "message": problem, "status": "skipped"})
            notes.append(f"{name} not tried: {problem}")
            logger.info("%s: %s covariance not tried: %s", name_of_fit, name, problem)
            continue
        budget = Budget(model.patterns, max_evaluations, max_seconds, label=f"{name_of_fit}, {name} covariance")
        before = len(attempts)
        result = optimise(model.patterns, spec, model.start_covariances, reml, optimizers, attempts, budget)
        fit = None
        if result is not None:
            theta, optimizer_used = result
            fit = build_fit(model, spec, spec.theta_to_phi(theta), method, df_method, optimizer_used, attempts)
        if budget.elapsed > PROGRESS_AFTER:
            logger.info("%s: %s covariance %s after %.1f s (%d likelihood evaluations)", name_of_fit, name,
                        "converged" if fit is not None else "failed", budget.elapsed, budget.evaluations)
        if fit is not None:
            if notes:
                notes.append(f"{name} used")
            fit.notes = notes
            return fit
        notes.append(_failure_note(name, attempts[before:]))
        logger.info("%s: %s", name_of_fit, notes[-1])
    advice = "" if "cs" in chain else " Add a simpler structure to the fallback chain (e.g. 'cs')."
    error = MMRMError(f"the MMRM did not converge with any covariance structure in {chain} "
                      f"({'; '.join(notes)}).{advice}")
    error.attempts = attempts
    raise error


def _failure_note(name, attempts):
    """One clause on why a structure gave no fit: stopped by the budget, or its last failure."""
    stopped = [a for a in attempts if a.get("status") == "stopped"]
    if stopped:
        return f"{name} {stopped[-1]['message']}"
    last = attempts[-1]["message"] if attempts else "no optimiser converged"
    return f"{name} did not converge ({last})"


def mmrm_at(data: pd.DataFrame, formula: str, subject: str, visit: str, covariance: str, phi,
            method: str = "reml", df_method: str = "satterthwaite", group: str | None = None,
            visit_levels=None, boundary=()) -> MMRMFit:
    """The MMRM results object at given covariance parameters ``phi`` (SAS parameterisation),
    without optimising: gives another fitter's estimate the engine's small-sample inference.
    ``boundary`` lists indices of parameters on the boundary of their space, held fixed in the
    covariance of the estimates (see :func:`build_fit`). Other arguments as :func:`fit_mmrm`."""
    method, df_method = check_methods(method, df_method)
    with one_blas_thread():
        model = ModelData(data, formula, subject, visit, group, visit_levels)
        spec = CovarianceModel(get_structure(covariance), len(model.visit_levels), len(model.groups))
        fit = build_fit(model, spec, np.asarray(phi, dtype=float), method, df_method, "given", [], boundary)
    if fit is None:
        raise MMRMError("the Hessian of the likelihood is not positive definite at the given parameters")
    return fit


def check_methods(method: str, df_method: str) -> tuple[str, str]:
    """``(method, df_method)`` lower-cased, df aliases resolved (``kr``, ``kr-linear``); an
    :class:`MMRMError` names the choices when either is unknown."""
    method = method.lower()
    if method not in ("reml", "ml"):
        raise MMRMError(f"method must be 'reml' or 'ml', not {method!r}")
    df_method = df_method.lower().replace("_", "-")
    aliases = {"kr": "kenward-roger", "kr-linear": "kenward-roger-linear", "kr1": "kenward-roger-linear"}
    df_method = aliases.get(df_method, df_method)
    if df_method not in DF_METHODS:
        raise MMRMError(f"df_method must be one of {DF_METHODS}, not {df_method!r}")
    return method, df_method


def build_fit(model: ModelData, spec: CovarianceModel, phi, method: str, df_method: str, optimizer_used: str,
              attempts: list, boundary=()) -> MMRMFit | None:
    r"""Evaluate the model at covariance parameters ``phi`` and assemble the results.

    Parameters
    ----------
    model : ModelData
        The data of the specification.
    spec : CovarianceModel
        The covariance structure.
    phi : numpy.ndarray
        Covariance parameters (SAS parameterisation) at the estimate.
    method, df_method : str
        Checked values (``"reml"``/``"ml"``; a df method of :data:`DF_METHODS`).
    optimizer_used : str
        How ``phi`` was found (``"given"``: the gradient decides ``converged``).
    attempts : list
        Failed attempts so far; a Hessian that is not positive definite adds one.
    boundary : sequence of int
        Indices of parameters on the boundary of their space (e.g. a variance component
        estimated at 0): held fixed, their rows and columns of the covariance of
        :math:`\hat\phi` are zero, so that small-sample df come from the free parameters only
        (as lmerTest at a singular fit).

    Returns
    -------
    MMRMFit or None
        None when the Hessian of :math:`-2\ell` in the free parameters is not positive definite.
    """
    reml = method == "reml"
    data_patterns = model.patterns
    evaluation = data_patterns.evaluate(spec.sigmas_phi(phi), reml=reml, gradient=True)
    boundary = tuple(sorted(int(k) for k in boundary))
    free = np.array([k for k in range(phi.size) if k not in boundary], dtype=int)
    gradient = parameter_gradient(spec.jac_phi(phi), evaluation.G)[free]
    # found by the optimiser (max |gradient| < 1e-4 per observation), or given: at a stationary point
    converged = optimizer_used != "given" or bool(np.max(np.abs(np.real(gradient)), initial=0.0) / model.n_obs < 1e-4)
    hessian = observed_information(data_patterns, evaluation, spec, phi, reml)[np.ix_(free, free)]
    eig = np.linalg.eigvalsh(hessian) if np.all(np.isfinite(hessian)) else np.array([-1.0])
    if not np.all(eig > 1e-8 * max(1.0, np.abs(eig).max())):
        attempts.append({"structure": spec.structure.name, "optimizer": optimizer_used,
                         "message": "Hessian not positive definite at the optimum: a boundary or a parameter the "
                                    "data do not determine", "status": "failed"})
        return None
    phi_vcov = np.zeros((phi.size, phi.size))
    phi_vcov[np.ix_(free, free)] = 2.0 * np.linalg.inv(hessian)
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
        visit_name=model.visit, boundary=boundary,
    )
    return fit
