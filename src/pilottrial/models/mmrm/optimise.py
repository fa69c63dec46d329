"""Optimising the (restricted) likelihood: starting values, Fisher scoring and scipy's optimisers."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize

from pilottrial.models.mmrm.likelihood import NotPositiveDefinite, expected_information
from pilottrial.models.mmrm.structures import parameter_gradient

__all__ = ["optimise", "fisher_scoring", "empirical_covariances", "OPTIMIZERS"]

#: Optimisers tried in order, each from the empirical and the pooled-diagonal start.
OPTIMIZERS = ("scoring", "BFGS", "L-BFGS-B", "Powell")


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


def optimise(data_patterns, spec, starts_cov, reml, optimizers, attempts):
    """Minimise -2 log-likelihood over theta; returns (theta, optimizer) or None."""
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
                                     "message": str(exc)})
                    continue
            value, grad = objective(res.x)
            ok = np.isfinite(value) and np.all(np.isfinite(res.x)) and np.max(np.abs(grad)) < 1e-4
            if ok:
                return res.x, optimizer
            attempts.append({"structure": spec.structure.name, "optimizer": optimizer,
                             "message": f"no convergence (max |gradient| {np.max(np.abs(grad)):.2g})"})
    return None
