r"""The primary MMRM fitted to many simulated two-arm trials at once (monotone dropout).

The model is the one :func:`pilottrial.models.mmrm.fit_mmrm` fits to a trial's change from baseline,
``change ~ baseline + arm * visit``: unstructured covariance :math:`\Sigma` across the ``m``
post-baseline visits, REML, :math:`\Phi = (X'V^{-1}X)^{-1}` and Satterthwaite degrees of freedom
for the treatment contrast at one visit. What is special is only the data: in a simulated trial
a participant is observed at the first ``k`` visits (monotone dropout), so

* the inverse of the covariance of a participant observed at ``k`` visits is
  :math:`S_k = \sum_{r<k} \ell_r\ell_r'`, :math:`\ell_r` the rows of :math:`L^{-1}`,
  :math:`LL' = \Sigma` (a leading block of a triangular matrix inverts to the leading block of
  the inverse), zero-padded to ``m x m``;
* a participant's rows ``Q_i = [X_i, y_i]`` (``m x (p+1)``) depend on the participant only
  through the arm, the baseline :math:`b_i` and the changes :math:`y_i`, so every quantity of
  the likelihood is a contraction of the per-group moments
  :math:`C_g = \sum_{i\in g} Q_i\otimes Q_i` (groups ``g`` = arm x number of visits observed)
  with an ``m x m`` matrix, e.g. :math:`[X,y]'V^{-1}[X,y] = \sum_g \langle S_{k(g)}, C_g\rangle`.

The cost of one likelihood evaluation therefore does not depend on the number of participants,
and a batch of ``T`` trials is a handful of stacked matrix products. The parameters are the
elements :math:`\phi` of :math:`\Sigma` (SAS's ``UN(i,j)``); with :math:`V` linear in
:math:`\phi`, :math:`e = Py` and :math:`V_j = \partial V/\partial\phi_j`,

.. math::
    \partial_j(-2\ell_R) = \operatorname{tr}(PV_j) - e'V_je, \qquad
    \partial_{jl}(-2\ell_R) = -\operatorname{tr}(PV_jPV_l) + 2e'V_jPV_le,

the expected information being :math:`\operatorname{tr}(PV_jPV_l)`. Newton steps (Fisher
scoring where the observed Hessian is not positive definite) with step halving run to a scoring
decrement below ``1e-12``; the Satterthwaite df of a contrast ``c`` is
:math:`2(c'\Phi c)^2/(g'Ag)` with :math:`g_j = (\Phi c)'P_j(\Phi c)`,
:math:`P_j = X'V^{-1}V_jV^{-1}X` and :math:`A` twice the inverse of the observed Hessian, as in
:mod:`pilottrial.models.mmrm.inference` (there from finite differences of the gradient, here exact).
``tests/planning/test_power.py`` checks estimates, standard errors and df against ``fit_mmrm`` to 1e-6.

A trial the batch cannot fit (a design cell without data, no convergence, a Hessian that is
not positive definite) is flagged in ``status`` so that the caller can refit it with
``fit_mmrm`` and its fallback chain.

References
----------
Jennrich RI, Schluchter MD (1986). Unbalanced repeated-measures models with structured
covariance matrices. Biometrics 42:805-820.
Satterthwaite FE (1946). An approximate distribution of estimates of variance components.
Biometrics Bulletin 2:110-114.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import stdtr

from pilottrial.models.mmrm.likelihood import one_blas_thread

__all__ = ["MonotoneTrials", "BatchFit", "fit_monotone_batch", "design_columns", "STATUS"]

LOG_2PI = np.log(2.0 * np.pi)

#: ``status`` codes of :class:`BatchFit`.
STATUS = {0: "fitted", 1: "not estimable", 2: "not converged", 3: "hessian not positive definite"}


@dataclass
class MonotoneTrials:
    """``T`` simulated trials with the same number of participants ``N`` and visits ``m``.

    ``arm`` (N,) 0 = reference, 1 = treatment, the same in every trial; ``baseline`` (T, N);
    ``change`` (T, N, m) with NaN from a participant's dropout on (monotone: observed at the
    first ``n_observed`` visits).
    """

    arm: np.ndarray
    baseline: np.ndarray
    change: np.ndarray

    @property
    def n_observed(self) -> np.ndarray:
        return np.sum(~np.isnan(self.change), axis=2)

    def check_monotone(self):
        observed = ~np.isnan(self.change)
        if np.any(observed[:, :, 1:] & ~observed[:, :, :-1]):
            raise ValueError("missing changes must be monotone (no visit after a missing one)")


@dataclass
class BatchFit:
    """The treatment contrast at the tested visit for each trial of a batch."""

    estimate: np.ndarray
    std_error: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    neg2_loglik: np.ndarray
    sigma: np.ndarray  # (T, m, m) REML estimate
    iterations: np.ndarray
    status: np.ndarray  # codes of STATUS


def design_columns(m: int) -> list[str]:
    """Column names of the design used here: intercept, baseline, arm, visit 2..m, arm:visit
    2..m (the column space of ``change ~ baseline + arm * visit``; ``~ baseline + arm`` if
    ``m == 1``)."""
    visits = [f"visit{j + 1}" for j in range(1, m)]
    return ["intercept", "baseline", "arm"] + visits + [f"arm:{v}" for v in visits]


def _row_basis(m: int) -> np.ndarray:
    """Z (2 arms, m visits, p+1, 3): row a of a participant of arm alpha is
    Z[alpha, a] @ (1, baseline, change_a)."""
    p = 2 * m + 1
    Z = np.zeros((2, m, p + 1, 3))
    for alpha in (0, 1):
        for a in range(m):
            Z[alpha, a, 0, 0] = 1.0
            Z[alpha, a, 2, 0] = alpha
            if a > 0:
                Z[alpha, a, 2 + a, 0] = 1.0
                Z[alpha, a, 2 + (m - 1) + a, 0] = alpha
            Z[alpha, a, 1, 1] = 1.0
            Z[alpha, a, p, 2] = 1.0
    return Z


def _unstructured_jacobian(m: int) -> np.ndarray:
    """d Sigma / d phi for the elements of Sigma, SAS order UN(1,1), UN(2,1), UN(2,2), ..."""
    rows, cols = np.tril_indices(m)
    J = np.zeros((rows.size, m, m))
    k = np.arange(rows.size)
    J[k, rows, cols] = 1.0
    J[k, cols, rows] = 1.0
    return J


class _Moments:
    """Per-trial group moments C_g and counts, built once per batch."""

    def __init__(self, trials: MonotoneTrials):
        arm = np.asarray(trials.arm, dtype=np.int64)
        y = np.asarray(trials.change, dtype=float)
        T, N, m = y.shape
        self.T, self.m, self.p = T, m, 2 * m + 1
        k = trials.n_observed  # (T, N)
        G = 2 * m  # group g = arm * m + (k - 1); participants with k = 0 are left out
        group = np.where(k > 0, arm[None, :] * m + k - 1, G)
        onehot = (group[:, :, None] == np.arange(G)[None, None, :]).astype(float)  # (T, N, G)
        b = np.asarray(trials.baseline, dtype=float)
        y0 = np.nan_to_num(y)
        # per participant: 1, b, b^2, y_a, b y_a, y_a y_b; summed per group
        per = np.concatenate([np.ones((T, N, 1)), b[:, :, None], (b * b)[:, :, None], y0, b[:, :, None] * y0,
                              (y0[:, :, :, None] * y0[:, :, None, :]).reshape(T, N, m * m)], axis=2)
        sums = np.swapaxes(onehot, 1, 2) @ per  # (T, G, 3 + 2m + m^2)
        n, sb, sbb = sums[..., 0], sums[..., 1], sums[..., 2]
        sy, sby = sums[..., 3:3 + m], sums[..., 3 + m:3 + 2 * m]
        syy = sums[..., 3 + 2 * m:].reshape(T, G, m, m)
        # W[a, b] = sum_i w_a w_b' with w_a = (1, b, y_a)
        W = np.empty((T, G, m, m, 3, 3))
        W[..., 0, 0] = n[:, :, None, None]
        W[..., 0, 1] = W[..., 1, 0] = sb[:, :, None, None]
        W[..., 1, 1] = sbb[:, :, None, None]
        W[..., 0, 2] = sy[:, :, None, :]
        W[..., 2, 0] = sy[:, :, :, None]
        W[..., 1, 2] = sby[:, :, None, :]
        W[..., 2, 1] = sby[:, :, :, None]
        W[..., 2, 2] = syy
        Z = _row_basis(m)[np.repeat([0, 1], m)]  # (G, m, p+1, 3)
        C = Z[None, :, :, None] @ W @ np.swapaxes(Z, -1, -2)[None, :, None, :]  # (T, G, m, m, p+1, p+1)
        self.C = C.reshape(T, G * m * m, (self.p + 1) ** 2)
        self.count = n  # participants per group (T, G)
        self.k_of_group = np.tile(np.arange(m), 2)
        self.n_obs = np.einsum("tg,g->t", self.count, self.k_of_group + 1.0)
        # participants observed at each visit, per arm: 0 means the design is rank deficient
        per_arm = self.count.reshape(T, 2, m)
        self.observed_at = np.flip(np.cumsum(np.flip(per_arm, axis=2), axis=2), axis=2)  # (T, 2, m)

    def contract(self, A):
        """sum_g <A_g, C_g> for A (T, [K,] G, m, m) -> (T, [K,] p+1, p+1)."""
        T, q = self.T, self.p + 1
        if A.ndim == 4:
            return (A.reshape(T, 1, -1) @ self.C).reshape(T, q, q)
        K = A.shape[1]
        return (A.reshape(T, K, -1) @ self.C).reshape(T, K, q, q)

    def contract_rows(self, B):
        """<C_g[a, b], B> for B (T, J, p+1, p+1) -> (T, J, G, m, m)."""
        T, m = self.T, self.m
        J = B.shape[1]
        out = self.C @ np.swapaxes(B.reshape(T, J, -1), 1, 2)  # (T, G*m*m, J)
        return np.moveaxis(out, 2, 1).reshape(T, J, 2 * m, m, m)

    def subset(self, idx):
        if len(idx) == self.T and np.array_equal(idx, np.arange(self.T)):
            return self
        sub = object.__new__(_Moments)
        sub.T, sub.m, sub.p = len(idx), self.m, self.p
        sub.C, sub.count, sub.k_of_group = self.C[idx], self.count[idx], self.k_of_group
        sub.n_obs, sub.observed_at = self.n_obs[idx], self.observed_at[idx]
        return sub


def _cholesky(S):
    """Batched Cholesky factor; NaN where S is not positive definite."""
    try:
        return np.linalg.cholesky(S), np.ones(S.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        ok = _min_eigenvalue(S) > 0
        L = np.full_like(S, np.nan)
        if ok.any():
            try:
                L[ok] = np.linalg.cholesky(S[ok])
            except np.linalg.LinAlgError:  # eigvalsh and cholesky disagree at the edge
                for t in np.flatnonzero(ok):
                    try:
                        L[t] = np.linalg.cholesky(S[t])
                    except np.linalg.LinAlgError:
                        ok[t] = False
        return L, ok


def _solve(A, b):
    """Batched solve of A x = b (b: (T, K)); NaN for the trials where A is singular."""
    finite = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(b).all(axis=1)
    x = np.full(b.shape, np.nan)
    if finite.any():
        try:
            x[finite] = np.linalg.solve(A[finite], b[finite][..., None])[..., 0]
        except np.linalg.LinAlgError:
            for t in np.flatnonzero(finite):
                try:
                    x[t] = np.linalg.solve(A[t], b[t])
                except np.linalg.LinAlgError:
                    pass
    return x


def _min_eigenvalue(A):
    """Smallest eigenvalue of each symmetric matrix; -inf where A is not finite."""
    finite = np.isfinite(A).all(axis=(1, 2))
    out = np.full(A.shape[0], -np.inf)
    if finite.any():
        out[finite] = np.linalg.eigvalsh(A[finite])[:, 0]
    return out


class _Evaluation:
    """-2 REML log-likelihood, gradient and (optionally) Hessians at Sigma, for a batch."""

    def __init__(self, mom: _Moments, sigma: np.ndarray, J: np.ndarray, second: bool):
        T, m, p = mom.T, mom.m, mom.p
        L, ok = _cholesky(sigma)
        L = np.where(ok[:, None, None], L, np.eye(m))
        Linv = np.linalg.inv(L)
        S = np.cumsum(Linv[:, :, :, None] * Linv[:, :, None, :], axis=1)  # (T, k, m, m): S_k
        logdet = np.cumsum(2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)  # (T, k)
        kg = mom.k_of_group
        M = mom.contract(S[:, kg])
        XVX, XVy, yVy = M[:, :p, :p], M[:, :p, p], M[:, p, p]
        LX, okx = _cholesky(XVX)
        ok &= okx
        LX = np.where(ok[:, None, None], LX, np.eye(p))
        Phi = np.linalg.inv(LX)
        Phi = np.swapaxes(Phi, 1, 2) @ Phi
        beta = np.einsum("tpq,tq->tp", Phi, XVy)
        neg2 = (np.einsum("tg,tg->t", mom.count, logdet[:, kg])
                + 2.0 * np.log(np.diagonal(LX, axis1=1, axis2=2)).sum(axis=1)
                + yVy - np.einsum("tp,tp->t", XVy, beta) + (mom.n_obs - p) * LOG_2PI)
        gamma = np.concatenate([-beta, np.ones((T, 1))], axis=1)
        Phi_pad = np.zeros((T, p + 1, p + 1))
        Phi_pad[:, :p, :p] = Phi
        RX = mom.contract_rows(np.stack([gamma[:, :, None] * gamma[:, None, :], Phi_pad], axis=1))
        # merge the arms: R_k = sum_i r_i r_i' and XPhiX_k = sum_i X_i Phi X_i' per pattern k
        R = RX[:, 0, :m] + RX[:, 0, m:]
        XPX = RX[:, 1, :m] + RX[:, 1, m:]
        n_k = mom.count[:, :m] + mom.count[:, m:]
        kernel = np.einsum("tk,tkab->tab", n_k, S) - (S @ (R + XPX) @ S).sum(axis=1)
        K = J.shape[0]
        self.grad = kernel.reshape(T, m * m) @ J.reshape(K, m * m).T
        self.neg2 = np.where(ok, neg2, np.inf)
        self.ok, self.beta, self.Phi, self.S = ok, beta, Phi, S
        if not second:
            return
        SJ = S[:, :, None] @ J[None, None]  # S_k J_j: (T, k, K, m, m)
        SJS = SJ @ S[:, :, None]
        flat = SJ.reshape(T, m, K, m * m)
        flat_t = np.swapaxes(SJ, -1, -2).reshape(T, m, K, m * m)
        # tr(A_j B_l) = <A_j, B_l'> as products of flattened matrices, summed over patterns
        E1 = ((n_k[:, :, None, None] * flat) @ np.swapaxes(flat_t, -1, -2)).sum(axis=1)
        SJSX_t = np.swapaxes(SJ @ (S @ XPX)[:, :, None], -1, -2).reshape(T, m, K, m * m)
        E2 = -2.0 * (flat @ np.swapaxes(SJSX_t, -1, -2)).sum(axis=1)
        F = mom.contract(np.swapaxes(SJS[:, kg], 1, 2))  # (T, K, p+1, p+1)
        PhiP = Phi[:, None] @ F[:, :, :p, :p]
        E3 = PhiP.reshape(T, K, p * p) @ np.swapaxes(np.swapaxes(PhiP, -1, -2).reshape(T, K, p * p), 1, 2)
        expected = E1 + E2 + E3
        Et = S @ R @ S  # sum_i e_i e_i' per pattern
        JE = J[None, None] @ Et[:, :, None]  # (T, k, K, m, m)
        # tr(J_j S_k J_l Et_k) = <S_k J_j, J_l Et_k>
        q1 = (flat @ np.swapaxes(JE.reshape(T, m, K, m * m), -1, -2)).sum(axis=1)
        a = (F[:, :, :p, :] @ gamma[:, None, :, None])[..., 0]  # (T, K, p)
        q2 = a @ Phi @ np.swapaxes(a, 1, 2)
        observed = -expected + 2.0 * (q1 - q2)
        self.expected = 0.5 * (expected + np.swapaxes(expected, 1, 2))
        self.observed = 0.5 * (observed + np.swapaxes(observed, 1, 2))
        self.P = F[:, :, :p, :p]


def _start(mom: _Moments) -> np.ndarray:
    """Pairwise-available covariance of OLS residuals, eigenvalues clipped to be positive
    definite (as fit_mmrm's start)."""
    T, m, p = mom.T, mom.m, mom.p
    D = np.cumsum(np.eye(m)[:, :, None] * np.eye(m)[:, None, :], axis=0)  # D_k = diag(1..k)
    M = mom.contract(np.broadcast_to(D[mom.k_of_group], (T, 2 * m, m, m)))
    beta = _solve(M[:, :p, :p], M[:, :p, p])
    gamma = np.concatenate([-beta, np.ones((T, 1))], axis=1)
    R = mom.contract_rows((gamma[:, :, None] * gamma[:, None, :])[:, None])[:, 0]
    R = R[:, :m] + R[:, m:]
    n_k = mom.count[:, :m] + mom.count[:, m:]
    pairs = np.einsum("tk,kab->tab", n_k, D)
    S = R.sum(axis=1) / np.maximum(pairs - 1.0, 1.0)
    S = np.where(np.isfinite(S).all(axis=(1, 2))[:, None, None], S, np.eye(m))
    vals, vecs = np.linalg.eigh(S)
    diag = np.diagonal(S, axis1=1, axis2=2).mean(axis=1)
    vals = np.clip(vals, 0.05 * np.maximum(diag, 1e-12)[:, None], None)
    return (vecs * vals[:, None, :]) @ np.swapaxes(vecs, 1, 2)


def fit_monotone_batch(trials: MonotoneTrials, visit: int, tol: float = 1e-12,
                       max_iter: int = 50) -> BatchFit:
    """Fit ``change ~ baseline + arm * visit`` (unstructured, REML) to every trial of the batch
    and test the treatment contrast at visit index ``visit`` (0-based) with Satterthwaite df.

    Parameters
    ----------
    trials : :class:`MonotoneTrials`, dropout monotone.
    visit : index of the visit whose treatment minus reference difference is tested.
    tol : convergence when the scoring decrement :math:`\\nabla'E^{-1}\\nabla` is below it.

    Returns
    -------
    :class:`BatchFit`; where ``status != 0`` the other fields are NaN.
    """
    with one_blas_thread():
        return _fit(trials, visit, tol, max_iter)


def _fit(trials, visit, tol, max_iter):
    y = np.asarray(trials.change, dtype=float)
    T, _, m = y.shape
    p = 2 * m + 1
    J = _unstructured_jacobian(m)
    mom = _Moments(trials)
    status = np.zeros(T, dtype=np.int64)
    # a visit without a participant in one arm: the arm x visit design is rank deficient;
    # the unstructured covariance also needs its entries identified
    status[np.any(mom.observed_at < 1, axis=(1, 2))] = 1
    sigma = np.full((T, m, m), np.nan)
    iterations = np.zeros(T, dtype=np.int64)
    active = np.flatnonzero(status == 0)
    if active.size:
        sigma[active] = _start(mom.subset(active))
    converged = np.zeros(T, dtype=bool)
    for it in range(max_iter):
        if active.size == 0:
            break
        sub = mom.subset(active)
        ev = _Evaluation(sub, sigma[active], J, second=True)
        # Newton where the observed Hessian is positive definite, else Fisher scoring
        H = ev.observed
        try_newton = _min_eigenvalue(H) > 0
        Hstep = np.where(try_newton[:, None, None], H, ev.expected)
        step = _solve(Hstep, ev.grad)
        decrement = np.einsum("tj,tj->t", ev.grad, _solve(ev.expected, ev.grad))
        bad = ~ev.ok | ~np.isfinite(decrement) | ~np.isfinite(step).all(axis=1)
        done = (decrement < tol) & ~bad
        converged[active[done]] = True
        iterations[active] = it
        status[active[bad]] = 2
        move = ~done & ~bad
        idx, step, slope = active[move], step[move], np.einsum("tj,tj->t", ev.grad[move], step[move])
        # near the optimum -2 log L cannot resolve the decrease: take the full Newton step
        close = (decrement[move] < 1e-6) & try_newton[move]
        value = ev.neg2[move]
        size = np.ones(idx.size)
        accepted = np.zeros(idx.size, dtype=bool)
        rows, cols = np.tril_indices(m)
        phi = sigma[idx][:, rows, cols]
        for _ in range(30):
            pending = np.flatnonzero(~accepted)
            if pending.size == 0:
                break
            cand_phi = phi[pending] - size[pending, None] * step[pending]
            cand = np.zeros((pending.size, m, m))
            cand[:, rows, cols] = cand_phi
            cand[:, cols, rows] = cand_phi
            with np.errstate(invalid="ignore", divide="ignore"):
                new = _Evaluation(mom.subset(idx[pending]), cand, J, second=False)
            good = new.ok & ((new.neg2 <= value[pending] - 1e-4 * size[pending] * np.abs(slope[pending]))
                             | (close[pending] & (size[pending] == 1.0)))
            sigma[idx[pending[good]]] = cand[good]
            accepted[pending[good]] = True
            size[pending[~good]] /= 2
        # no acceptable step: the scoring decrement is tiny or the surface is flat
        stuck = idx[~accepted]
        status[stuck] = 2
        active = idx[accepted]
    status[(status == 0) & ~converged] = 2
    return _inference(mom, sigma, status, iterations, visit, J, m, p)


def _inference(mom, sigma, status, iterations, visit, J, m, p):
    T = mom.T
    est = np.full(T, np.nan)
    se, df, pv, neg2 = est.copy(), est.copy(), est.copy(), est.copy()
    fitted = np.flatnonzero(status == 0)
    if fitted.size:
        ev = _Evaluation(mom.subset(fitted), sigma[fitted], J, second=True)
        H = ev.observed
        finite = np.isfinite(H).all(axis=(1, 2))
        eig = np.full(H.shape[:2], -np.inf)
        eig[finite] = np.linalg.eigvalsh(H[finite])
        pd_ok = ev.ok & finite & np.all(eig > 1e-8 * np.maximum(1.0, np.abs(eig).max(axis=1))[:, None], axis=1)
        status[fitted[~pd_ok]] = 3
        H = np.where(pd_ok[:, None, None], H, np.eye(H.shape[1]))
        c = np.zeros(p)
        c[2] = 1.0
        if visit > 0:
            c[2 + (m - 1) + visit] = 1.0
        u = ev.Phi @ c  # (T, p)
        var = u @ c
        g = np.einsum("tp,tjpq,tq->tj", u, ev.P, u)
        A = 2.0 * np.linalg.inv(H)
        denom = np.einsum("tj,tjl,tl->t", g, A, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = 2.0 * var**2 / denom
            s = np.sqrt(var)
        e = ev.beta @ c
        keep = pd_ok & np.isfinite(d) & (d > 0) & np.isfinite(s) & (s > 0)
        status[fitted[pd_ok & ~keep]] = 3
        est[fitted[keep]] = e[keep]
        se[fitted[keep]] = s[keep]
        df[fitted[keep]] = d[keep]
        pv[fitted[keep]] = 2.0 * stdtr(d[keep], -np.abs(e[keep] / s[keep]))  # = scipy.stats.t.sf
        neg2[fitted[keep]] = ev.neg2[keep]
    sigma = np.where((status == 0)[:, None, None], sigma, np.nan)
    return BatchFit(est, se, df, pv, neg2, sigma, iterations, status)
