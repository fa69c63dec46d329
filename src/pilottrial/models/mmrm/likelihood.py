"""The (restricted) log-likelihood of the MMRM, evaluated for all missingness patterns at once.

Model: :math:`y_i = X_i\\beta + \\varepsilon_i`, :math:`\\varepsilon_i \\sim N(0, \\Sigma_i)`,
where :math:`\\Sigma_i` is the sub-matrix of the visit covariance :math:`\\Sigma` (of the
subject's group) for the visits at which subject *i* was observed.

For fixed covariance parameters the GLS estimate is
:math:`\\hat\\beta = (X'V^{-1}X)^{-1}X'V^{-1}y` and

.. math::
    -2\\ell_{ML} = \\sum_i \\{\\log|\\Sigma_i| + r_i'\\Sigma_i^{-1}r_i\\} + n\\log 2\\pi,\\qquad
    -2\\ell_{REML} = -2\\ell_{ML} + \\log|X'V^{-1}X| - p\\log 2\\pi .

Subjects that share a group and a set of observed visits share :math:`\\Sigma_i`; they form a
*pattern*. Every pattern's matrix is padded to all :math:`m` visits (identity rows and columns
at its missing visits, whose Cholesky factor and inverse are then the pattern's own, padded
the same way) and every subject's rows to :math:`m` (zero rows at missing visits), so that one
evaluation is a few batched array operations over all patterns and subjects and a few large
matrix products, with no Python loop. With :math:`V_i = \\Sigma_i^{-1}X_i` and
:math:`\\rho_i = \\Sigma_i^{-1}r_i`, :math:`X'V^{-1}X = \\sum_i X_i'V_i` and the gradient with
respect to any parameter :math:`\\phi_k` of :math:`\\Sigma` is

.. math::
    \\frac{\\partial(-2\\ell_R)}{\\partial\\phi_k} = \\Big\\langle \\frac{\\partial\\Sigma}{\\partial\\phi_k},\\,
    \\sum_{\\text{patterns}} n_p\\Sigma_p^{-1} - \\sum_i \\rho_i\\rho_i' - \\sum_i V_i\\Phi V_i'\\Big\\rangle,

with :math:`\\Phi = (X'V^{-1}X)^{-1}`; the last term is dropped for ML (Jennrich & Schluchter
1986; Wolfinger, Tobias & Sall 1994). The sums over subjects are single matrix products of the
subjects' rows laid out visit by visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["PatternData", "Evaluation", "NotPositiveDefinite", "expected_information", "one_blas_thread"]

LOG_2PI = np.log(2.0 * np.pi)
_THREADPOOLS: list = []


def one_blas_thread():
    """Context manager that limits BLAS to one thread (the engine's work is many small matrix
    products, which BLAS threads only slow down on a busy machine). The process's thread pools
    are found once (``threadpoolctl.ThreadpoolController``: scanning the loaded libraries takes
    milliseconds, more than a small fit)."""
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=1, user_api="blas")


class NotPositiveDefinite(ArithmeticError):
    """A covariance matrix or X'V^-1 X is not positive definite at these parameters."""


@dataclass
class Evaluation:
    """Everything computed at one value of the covariance parameters.

    Padded arrays (patterns ``P``, subjects ``n`` sorted by pattern, visits ``m``): ``linv``
    (P, m, m) inverse Cholesky factors (identity at missing visits), ``sinv`` (P, m, m) the
    inverse covariances :math:`\\Sigma_p^{-1}` (zero at missing visits), ``VY`` (n m, p + 1)
    the rows :math:`\\Sigma_i^{-1}[X_i\\ y_i]` and ``rho`` (n, m) :math:`\\Sigma_i^{-1}r_i`.
    """

    neg2ll: float
    beta: np.ndarray
    vcov_beta: np.ndarray  # Phi = (X'V^-1X)^-1
    linv: np.ndarray
    sinv: np.ndarray
    VY: np.ndarray
    rho: np.ndarray
    G: np.ndarray | None  # (n_groups, m, m) gradient kernel, None when not requested
    data: PatternData | None = None
    cinv: np.ndarray | None = None  # Phi = cinv' cinv
    VD: np.ndarray | None = None  # (n, m, p) Sigma_i^-1 X_i cinv'
    _Q: np.ndarray | None = None
    _W: np.ndarray | None = None

    @property
    def V(self) -> np.ndarray:
        """(n, m, p) rows :math:`\\Sigma_i^{-1}X_i` (zero at missing visits)."""
        return self.VY[:, :self.data.p].reshape(-1, self.data.n_visits, self.data.p)

    @property
    def W(self) -> np.ndarray:
        """(n, m, p) whitened design :math:`L_i^{-1}X_i`."""
        if self._W is None:
            self._W = self.linv[self.data.pattern_of] @ self.data.X
        return self._W

    @property
    def Q(self) -> np.ndarray:
        """(P, m, m) per pattern :math:`\\sum_i \\Sigma_i^{-1}X_i\\Phi X_i'\\Sigma_i^{-1}`."""
        if self._Q is None:
            if self.VD is None:
                self.VD = (self.VY[:, :self.data.p] @ self.cinv.T).reshape(-1, self.data.n_visits, self.data.p)
            self._Q = self.data.pattern_sums(self.VD, self.VD)
        return self._Q

    def iter_patterns(self):
        """(group, visits, Linv, W, r) of each pattern, unpadded, for the once-per-fit computations."""
        d, W = self.data, self.W
        r = np.einsum("sab,sb->sa", self.linv[d.pattern_of], d.XY[:, :, d.p] - d.X @ self.beta)
        for i in range(d.n_patterns):
            v = d.pattern_visits[i]
            rows = slice(d.starts[i], d.starts[i] + d.counts[i])
            yield d.pattern_group[i], v, self.linv[i][np.ix_(v, v)], W[rows][:, v, :], r[rows][:, v]


class PatternData:
    """Response, design and visit/subject/group codes arranged in missingness patterns and
    padded to all visits, so that every evaluation is a few batched array operations.

    Attributes
    ----------
    n_obs, p, n_visits, n_groups, n_subjects, n_patterns : int
    mask : numpy.ndarray
        (P, m) visits observed in each pattern.
    pattern_group, starts, counts : numpy.ndarray
        Group, first subject and number of subjects of each pattern (subjects sorted by pattern).
    pattern_of : numpy.ndarray
        (n,) pattern of each subject.
    XY : numpy.ndarray
        (n, m, p + 1) design and response of each subject, zero rows at its missing visits.
    rows : numpy.ndarray
        (n, m) row numbers in the model frame (-1 at missing visits).
    """

    def __init__(self, y, X, subject, visit, group, n_visits, n_groups):
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        subject = np.asarray(subject)
        visit = np.asarray(visit, dtype=np.int64)
        group = np.asarray(group, dtype=np.int64)
        self.n_obs, self.p = X.shape
        self.n_visits = m = int(n_visits)
        self.n_groups = int(n_groups)
        _, subj = np.unique(subject, return_inverse=True)
        self.n_subjects = n = int(subj.max()) + 1
        present = np.zeros((n, m), dtype=bool)
        present[subj, visit] = True
        subject_group = np.zeros(n, dtype=np.int64)
        subject_group[subj] = group
        # subjects sorted by (group, visits observed): each pattern is a contiguous run
        weights = np.left_shift(np.int64(1), np.arange(m, dtype=np.int64)) if m <= 62 else None
        if weights is not None:
            key = present.astype(np.int64) @ weights
            order = np.lexsort((key, subject_group))
            skey, sgroup = key[order], subject_group[order]
            change = np.concatenate([[True], (skey[1:] != skey[:-1]) | (sgroup[1:] != sgroup[:-1])])
        else:
            order = np.lexsort(tuple(present[:, j] for j in reversed(range(m))) + (subject_group,))
            sp, sgroup = present[order], subject_group[order]
            change = np.concatenate([[True], np.any(sp[1:] != sp[:-1], axis=1) | (sgroup[1:] != sgroup[:-1])])
        self.starts = np.flatnonzero(change)
        self.counts = np.diff(np.append(self.starts, n))
        self.n_patterns = P = self.starts.size
        self.pattern_of = np.repeat(np.arange(P), self.counts)
        self.mask = present[order][self.starts]
        self.pattern_group = subject_group[order][self.starts]
        self.pattern_visits = [np.flatnonzero(mk) for mk in self.mask]
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        position = rank[subj]
        self.XY = np.zeros((n, m, self.p + 1))
        self.XY[position, visit, :self.p] = X
        self.XY[position, visit, self.p] = y
        self.XY_flat = self.XY.reshape(-1, self.p + 1)
        self.rows = np.full((n, m), -1, dtype=np.int64)
        self.rows[position, visit] = np.arange(self.n_obs)
        self.mask2 = self.mask[:, :, None] & self.mask[:, None, :]
        self.eye_missing = np.where(self.mask[:, :, None], 0.0, np.eye(m)[None])  # 1 on missing diagonals
        self.eye_observed = self.mask[:, :, None] * np.eye(m)[None]
        self.group_sum = None if self.n_groups == 1 else \
            (self.pattern_group[None, :] == np.arange(self.n_groups)[:, None]).astype(float)
        first = np.searchsorted(self.pattern_group, np.arange(self.n_groups + 1))  # patterns sorted by group
        bounds = np.append(self.starts, n)[first]
        self.group_bounds = list(zip(bounds[:-1], bounds[1:]))

    @property
    def X(self):
        return self.XY[:, :, :self.p]

    def _by_group(self, values):
        """(..., P, m, m) per-pattern values summed into (..., n_groups, m, m)."""
        if self.group_sum is None:
            return values.sum(axis=-3)[..., None, :, :]
        return np.einsum("gp,...pab->...gab", self.group_sum, values)

    def pattern_sums(self, A, B) -> np.ndarray:
        """(P, m, m) per pattern :math:`\\sum_i A_iB_i'` of (n, m, k) arrays of the subjects."""
        m = self.n_visits
        if self.n_patterns > 256:
            return np.add.reduceat(A @ np.swapaxes(B, 1, 2), self.starts, axis=0)
        At = np.ascontiguousarray(np.swapaxes(A, 0, 1))  # (m, n, k): a pattern is a 2-d view
        Bt = At if B is A else np.ascontiguousarray(np.swapaxes(B, 0, 1))
        out = np.empty((self.n_patterns, m, m))
        for i, (s, c) in enumerate(zip(self.starts, self.counts)):
            out[i] = At[:, s:s + c].reshape(m, -1) @ Bt[:, s:s + c].reshape(m, -1).T
        return out

    def group_sums(self, A, B) -> np.ndarray:
        """(n_groups, m, m) per group :math:`\\sum_i A_iB_i'` of (n, m, k) or (n, m) arrays of the subjects."""
        m = self.n_visits

        def visit_major(Z):
            return np.swapaxes(Z, 0, 1).reshape(m, -1) if Z.ndim == 3 else Z.T

        At = visit_major(A)
        Bt = At if B is A else visit_major(B)
        if self.n_groups == 1:
            return (At @ At.T if B is A else At @ Bt.T)[None]
        k = A.shape[2] if A.ndim == 3 else 1
        out = np.zeros((self.n_groups, m, m))
        for g, (s, e) in enumerate(self.group_bounds):
            Ag = At[:, s * k:e * k]
            out[g] = Ag @ Ag.T if B is A else Ag @ Bt[:, s * k:e * k].T
        return out

    # ------------------------------------------------------------------------------------
    def evaluate(self, sigmas, reml: bool = True, gradient: bool = False) -> Evaluation:
        """-2 log-likelihood (REML or ML) at the given visit covariances (one per group)."""
        p = self.p
        sub = np.where(self.mask2, np.asarray(sigmas)[self.pattern_group], self.eye_missing)
        try:
            chol = np.linalg.cholesky(sub)
        except np.linalg.LinAlgError:
            raise NotPositiveDefinite("visit covariance is not positive definite") from None
        linv = np.linalg.inv(chol)  # (P, m, m), lower triangular, identity at missing visits
        sinv = np.swapaxes(linv, 1, 2) @ linv - self.eye_missing  # Sigma_p^-1, zero at missing visits
        VY = (sinv[self.pattern_of] @ self.XY).reshape(-1, p + 1)  # rows Sigma_i^-1 [X_i y_i]
        cross = self.XY_flat.T @ VY
        try:
            chol_x = np.linalg.cholesky(0.5 * (cross[:p, :p] + cross[:p, :p].T))
        except np.linalg.LinAlgError:
            raise NotPositiveDefinite("X'V^-1X is singular: the design is rank deficient") from None
        cinv = np.linalg.inv(chol_x)  # Phi = (X'V^-1X)^-1 = cinv' cinv
        beta = cinv.T @ (cinv @ cross[:p, p])
        phi_beta = cinv.T @ cinv
        coef = np.append(-beta, 1.0)
        rho = VY @ coef  # Sigma_i^-1 r_i, stacked
        neg2ll = (2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1) @ self.counts)
                  + float((self.XY_flat @ coef) @ rho) + self.n_obs * LOG_2PI)
        if reml:
            neg2ll += 2.0 * np.log(np.diag(chol_x)).sum() - p * LOG_2PI
        G = VD = None
        rho = rho.reshape(-1, self.n_visits)
        if gradient:
            G = self._by_group(self.counts[:, None, None] * sinv) - self.group_sums(rho, rho)
            if reml:
                VD = (VY[:, :p] @ cinv.T).reshape(-1, self.n_visits, p)  # Sigma_i^-1 X_i D, Phi = DD'
                G -= self.group_sums(VD, VD)
        return Evaluation(float(neg2ll), beta, phi_beta, linv, sinv, VY, rho, G, self, cinv, VD)

    def quadratic_kernel(self, evaluation: Evaluation, u: np.ndarray) -> np.ndarray:
        """Kernel K (q x groups x m x m) with  u' X'V^-1 (dV/dphi_k) V^-1 X u = <dSigma_k, K>.

        Used for the derivative of a contrast variance: d(c'Phi c)/dphi_k = (Phi c)' P_k (Phi c).
        """
        u = np.atleast_2d(u)  # (q, p): several vectors at once
        w = (evaluation.VY[:, :self.p] @ u.T).reshape(-1, self.n_visits, u.shape[0])  # Sigma_i^-1 X_i u
        return np.stack([self.group_sums(w[:, :, j], w[:, :, j]) for j in range(u.shape[0])])


def expected_information(data: PatternData, evaluation: Evaluation, jacobians, reml: bool = True,
                         fixed_effects_term: bool = True) -> np.ndarray:
    """Expected Hessian of -2 log-likelihood with respect to covariance parameters.

    .. math::
        E_{kl} = \\operatorname{tr}(PV_kPV_l) = \\sum_p \\big[n_p\\operatorname{tr}(M_kM_l)
        - 2\\operatorname{tr}(S_pM_kM_l)\\big] + \\operatorname{tr}(\\Phi P_k\\Phi P_l)

    with :math:`M_k = L^{-1}\\Sigma_kL^{-T}` per pattern, :math:`S_p = \\sum_i W_i\\Phi W_i'` and
    :math:`P_k = \\sum_i W_i'M_kW_i`; for ML only the first term (Harville 1977). The pattern
    sums are taken once for all parameters: :math:`\\operatorname{tr}(M_kC_pM_l) =
    \\operatorname{tr}(\\Sigma_kA_p\\Sigma_lB_p)` with :math:`A_p = L^{-T}C_pL^{-1}`,
    :math:`B_p = \\Sigma_p^{-1}`, so :math:`E_{kl} = \\sum_{ijab}\\Sigma_{k,ij}\\Sigma_{l,ab}
    T_{jabi}` with :math:`T = \\sum_p A_p \\otimes B_p`. ``jacobians`` is a list (one per group)
    of ``d Sigma / d params`` arrays; parameters are stacked by group.
    ``fixed_effects_term=False`` drops the last, O(p/n), term, whose cost grows as
    (parameters x p^2): the optimiser uses that cheaper matrix only to choose its steps.
    """
    sizes = [J.shape[0] for J in jacobians]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    n_par = int(offsets[-1])
    m = data.n_visits
    B = evaluation.sinv
    A = data.counts[:, None, None] * B
    if reml:
        A = A - 2.0 * evaluation.Q  # L^-T (n_p I - 2 S_p) L^-1
    E = np.zeros((n_par, n_par))
    for g, J in enumerate(jacobians):
        sel = slice(None) if data.n_groups == 1 else data.pattern_group == g
        Ag, Bg = A[sel].reshape(-1, m * m), B[sel].reshape(-1, m * m)
        T = (Ag.T @ Bg).reshape(m, m, m, m)  # T[j, a, b, i] = sum_p A[j, a] B[b, i]
        K = J.shape[0]
        Jf = J.reshape(K, m * m)
        Z = (Jf @ T.transpose(1, 2, 0, 3).reshape(m * m, m * m)).reshape(K, m, m)  # Z[l, j, i]
        E[offsets[g]:offsets[g + 1], offsets[g]:offsets[g + 1]] = Jf @ Z.transpose(0, 2, 1).reshape(K, m * m).T
    if reml and fixed_effects_term:
        E += _fixed_effects_term(data, evaluation, jacobians, offsets)
    return 0.5 * (E + E.T)


def _fixed_effects_term(data: PatternData, evaluation: Evaluation, jacobians, offsets) -> np.ndarray:
    """:math:`\\operatorname{tr}(\\Phi P_k\\Phi P_l)` with :math:`P_k = \\sum_i V_i'\\Sigma_kV_i`,
    :math:`V_i = \\Sigma_i^{-1}X_i`: one cross product of the subjects' (m p) rows per group."""
    m, p = data.n_visits, data.p
    V = evaluation.V.reshape(data.n_subjects, m * p)
    P = np.zeros((int(offsets[-1]), p, p))
    for g, J in enumerate(jacobians):
        s, e = data.group_bounds[g] if data.n_groups > 1 else (0, data.n_subjects)
        VV = (V[s:e].T @ V[s:e]).reshape(m, p, m, p).transpose(0, 2, 1, 3).reshape(m * m, p * p)
        P[offsets[g]:offsets[g + 1]] = (J.reshape(J.shape[0], m * m) @ VV).reshape(-1, p, p)
    PhiP = evaluation.vcov_beta[None] @ P  # (K, p, p)
    return np.einsum("kpq,lqp->kl", PhiP, PhiP)
