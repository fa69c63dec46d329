"""Optimising the (restricted) likelihood: starting values, Fisher scoring and scipy's optimisers,
within a budget of likelihood evaluations and seconds per covariance structure."""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from scipy import optimize

from pilottrial.models.mmrm.likelihood import NotPositiveDefinite, expected_information
from pilottrial.models.mmrm.structures import parameter_gradient

__all__ = ["optimise", "fisher_scoring", "empirical_covariances", "Budget", "BudgetExhausted", "OPTIMIZERS",
           "MAX_EVALUATIONS", "MAX_SECONDS"]

#: Optimisers tried in order, each from the empirical and the pooled-diagonal start.
OPTIMIZERS = ("scoring", "BFGS", "L-BFGS-B", "Powell")
#: Default budget of one covariance structure: likelihood evaluations (a converging fit uses
#: 10 to 100) and seconds (a safety net for very large trials; the evaluation count decides
#: first on any trial that fits in seconds, so results do not depend on the machine).
MAX_EVALUATIONS = 1000
MAX_SECONDS = 120.0
#: Seconds after which a structure's fit reports its progress, and then every ``PROGRESS_EVERY``.
PROGRESS_AFTER, PROGRESS_EVERY = 5.0, 15.0

logger = logging.getLogger("pilottrial.models.mmrm")


class BudgetExhausted(Exception):
    """The structure's budget of likelihood evaluations or seconds is spent."""


class Budget:
    """Counts likelihood evaluations of one structure's fit, stops it when the budget is spent
    and logs progress (``pilottrial.models.mmrm`` logger, INFO) for a fit that takes more than
    a few seconds.

    Parameters
    ----------
    patterns : pilottrial.models.mmrm.likelihood.PatternData
        The data whose ``evaluate`` is counted; other attributes are passed through.
    max_evaluations : int or None
        Likelihood evaluations allowed (None: no limit).
    max_seconds : float or None
        Seconds allowed (None: no limit).
    label : str
        Names the fit in progress messages (e.g. ``"CAPS-5 MMRM, us"``).
    """

    def __init__(self, patterns, max_evaluations=MAX_EVALUATIONS, max_seconds=MAX_SECONDS, label=""):
        self.patterns, self.max_evaluations, self.max_seconds = patterns, max_evaluations, max_seconds
        self.label, self.optimizer = label, ""
        self.evaluations = 0
        self.start = time.monotonic()
        self._next_report = self.start + PROGRESS_AFTER

    def __getattr__(self, name):
        return getattr(self.patterns, name)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def evaluate(self, *args, **kwargs):
        self.evaluations += 1
        now = time.monotonic()
        if self.max_evaluations is not None and self.evaluations > self.max_evaluations:
            raise BudgetExhausted(f"stopped after {self.max_evaluations} likelihood evaluations "
                                  f"({now - self.start:.1f} s) without converging")
        if self.max_seconds is not None and now - self.start > self.max_seconds:
            raise BudgetExhausted(f"stopped after {now - self.start:.0f} s ({self.evaluations} likelihood "
                                  f"evaluations) without converging")
        if now >= self._next_report:
            logger.info("%s: still fitting (%s), %.0f s, %d likelihood evaluations", self.label, self.optimizer,
                        now - self.start, self.evaluations)
            self._next_report = now + PROGRESS_EVERY
        return self.patterns.evaluate(*args, **kwargs)


def empirical_covariances(subject_code, visit_code, residuals, group_code, n_visits, n_groups):
    """Pairwise-complete covariance of OLS residuals across visits, per group, projected onto
    the positive-definite cone (eigenvalues clipped) so that it can start any structure."""
    out = []
    pooled = float(np.var(residuals)) or 1.0
    for g in range(n_groups):
        sel = group_code == g
        subjects, rows = np.unique(subject_code[sel], return_inverse=True)
        wide = np.full((subjects.size, n_visits), np.nan)
        wide[rows, visit_code[sel]] = residuals[sel]
        present = ~np.isnan(wide)
        filled = np.where(present, wide, 0.0)
        counts = present.T.astype(float) @ present
        sums = filled.T @ present
        means_ab = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)  # mean of a over pairs
        cross = filled.T @ filled
        S = np.divide(cross - counts * means_ab * means_ab.T, counts - 1,
                      out=np.zeros_like(cross), where=counts >= 3)
        diag = np.diag(S).copy()
        diag = np.where(np.isfinite(diag) & (diag > 0), diag, pooled)
        S[np.diag_indices(n_visits)] = diag
        vals, vecs = np.linalg.eigh(S)
        vals = np.clip(vals, 0.05 * diag.mean(), None)
        out.append((vecs * vals) @ vecs.T)
    return out


def fisher_scoring(data_patterns, spec, theta, reml, max_iter=60, tol=1e-11):
    """Fisher scoring (Jennrich & Schluchter 1986) with Armijo step halving.

    Step :math:`-E^{-1}\\nabla`, :math:`E` the expected Hessian of -2 log-likelihood in the
    optimiser's parameters; stops when the scoring decrement :math:`\\nabla'E^{-1}\\nabla` falls
    below ``tol``. Returns an object with ``x`` like scipy's results.
    """

    def state(t):
        ev = data_patterns.evaluate(spec.sigmas_theta(t), reml=reml, gradient=True)
        jac = spec.jac_theta(t)
        return ev, ev.neg2ll, parameter_gradient(jac, ev.G), jac

    theta = np.asarray(theta, dtype=float)
    ev, value, grad, jac = state(theta)
    for _ in range(max_iter):
        info = expected_information(data_patterns, ev, jac, reml, fixed_effects_term=False)
        step = np.linalg.solve(info, grad)
        decrement = float(grad @ step)
        if decrement < tol:
            return optimize.OptimizeResult(x=theta, success=True)
        size = 1.0
        while True:
            candidate = theta - size * step
            try:
                new = state(candidate)
                if new[1] <= value - 1e-4 * size * decrement:
                    break
            except NotPositiveDefinite:
                pass
            size /= 2
            if size < 1e-6:
                return optimize.OptimizeResult(x=theta, success=False)
        theta = candidate
        ev, value, grad, jac = new
    return optimize.OptimizeResult(x=theta, success=False)


def optimise(data_patterns, spec, starts_cov, reml, optimizers, attempts, budget: Budget | None = None):
    """Minimise -2 log-likelihood over theta; returns (theta, optimizer) or None.

    Each optimiser runs from each start until one converges (max |gradient| < 1e-4 per
    observation); failures are appended to ``attempts``. With a ``budget``
    (:class:`Budget` wrapping ``data_patterns``) the structure is given up when it is spent.
    """
    if budget is not None:
        data_patterns = budget
    n = data_patterns.n_obs

    def objective(theta):
        try:
            ev = data_patterns.evaluate(spec.sigmas_theta(theta), reml=reml, gradient=True)
        except NotPositiveDefinite:
            return np.inf, np.zeros_like(theta)
        grad = parameter_gradient(spec.jac_theta(theta), ev.G)
        return ev.neg2ll / n, grad / n

    starts = []
    try:
        starts.append(np.concatenate([spec.structure.start(S) for S in starts_cov]))
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        pass
    pooled = [np.eye(spec.n_visits) * float(np.mean(np.diag(S))) for S in starts_cov]
    starts.append(np.concatenate([spec.structure.start(S) for S in pooled]))
    for optimizer in optimizers:
        if budget is not None:
            budget.optimizer = optimizer
        for start in starts:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    if optimizer == "scoring":
                        res = fisher_scoring(data_patterns, spec, start, reml)
                    elif optimizer == "Powell":
                        res = optimize.minimize(lambda t: objective(t)[0], start, method="Powell",
                                                options={"xtol": 1e-10, "ftol": 1e-14, "maxiter": 20000})
                    else:
                        opts = {"gtol": 1e-9, "maxiter": 2000} if optimizer == "BFGS" else \
                            {"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000}
                        res = optimize.minimize(objective, start, jac=True, method=optimizer, options=opts)
                except (np.linalg.LinAlgError, ValueError, FloatingPointError, NotPositiveDefinite) as exc:
                    attempts.append({"structure": spec.structure.name, "optimizer": optimizer,
                                     "message": str(exc), "status": "failed"})
                    continue
                except BudgetExhausted as exc:
                    attempts.append({"structure": spec.structure.name, "optimizer": optimizer,
                                     "message": str(exc), "status": "stopped"})
                    return None
            try:
                value, grad = objective(res.x)
            except BudgetExhausted as exc:
                attempts.append({"structure": spec.structure.name, "optimizer": optimizer,
                                 "message": str(exc), "status": "stopped"})
                return None
            ok = np.isfinite(value) and np.all(np.isfinite(res.x)) and np.max(np.abs(grad)) < 1e-4
            if ok:
                return res.x, optimizer
            attempts.append({"structure": spec.structure.name, "optimizer": optimizer,
                             "message": f"no convergence (max |gradient| {np.max(np.abs(grad)):.2g})",
                             "status": "failed"})
    return None
