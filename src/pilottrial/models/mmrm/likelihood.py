"""The (restricted) log-likelihood of the MMRM, evaluated in blocks of missingness patterns.

Model: :math:`y_i = X_i\\beta + \\varepsilon_i`, :math:`\\varepsilon_i \\sim N(0, \\Sigma_i)`,
where :math:`\\Sigma_i` is the sub-matrix of the visit covariance :math:`\\Sigma` (of the
subject's group) for the visits at which subject *i* was observed.

For fixed covariance parameters the GLS estimate is
:math:`\\hat\\beta = (X'V^{-1}X)^{-1}X'V^{-1}y` and

.. math::
    -2\\ell_{ML} = \\sum_i \\{\\log|\\Sigma_i| + r_i'\\Sigma_i^{-1}r_i\\} + n\\log 2\\pi,\\qquad
    -2\\ell_{REML} = -2\\ell_{ML} + \\log|X'V^{-1}X| - p\\log 2\\pi .

Subjects that share a group and a set of observed visits share :math:`\\Sigma_i`; they form a
*pattern* and are whitened together with one triangular inverse, so no Python loop runs over
subjects. With :math:`L_i L_i' = \\Sigma_i`, :math:`W_i = L_i^{-1}X_i`, :math:`\\tilde r_i =
L_i^{-1}r_i`, the gradient with respect to any parameter :math:`\\phi_k` of :math:`\\Sigma` is

.. math::
    \\frac{\\partial(-2\\ell_R)}{\\partial\\phi_k} = \\sum_{\\text{patterns}}
    \\Big\\langle \\frac{\\partial\\Sigma}{\\partial\\phi_k},\\,
    L^{-T}\\big(n_p I - \\textstyle\\sum_i \\tilde r_i\\tilde r_i'
    - \\sum_i W_i\\Phi W_i'\\big)L^{-1}\\Big\\rangle,

with :math:`\\Phi = (X'V^{-1}X)^{-1}`; the last term is dropped for ML (Jennrich & Schluchter
1986; Wolfinger, Tobias & Sall 1994).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

__all__ = ["SizeBlock", "PatternData", "Evaluation", "NotPositiveDefinite"]

LOG_2PI = np.log(2.0 * np.pi)


class NotPositiveDefinite(ArithmeticError):
    """A covariance matrix or X'V^-1 X is not positive definite at these parameters."""


@dataclass
class SizeBlock:
    """All subjects observed at ``k`` visits, sorted by missingness pattern.

    Pattern ``i`` (a group and a set of ``k`` visits) holds subjects ``starts[i]`` to
    ``starts[i] + counts[i] - 1`` of the block.
    """

    k: int
    visits: np.ndarray  # (n_patterns, k) visit indices
    group: np.ndarray  # (n_patterns,)
    starts: np.ndarray  # (n_patterns,)
    counts: np.ndarray  # (n_patterns,)
    pattern_of: np.ndarray  # (n_subjects,) pattern of each subject
    X: np.ndarray  # (n_subjects, k, p)
    y: np.ndarray  # (n_subjects, k)
    rows: np.ndarray  # (n_subjects, k) row numbers in the model frame
    flat: np.ndarray | None = None  # (n_patterns * k * k,) index into a (groups, m, m) array


@dataclass
class Evaluation:
    """Everything computed at one value of the covariance parameters."""

    neg2ll: float
    beta: np.ndarray
    vcov_beta: np.ndarray  # Phi = (X'V^-1X)^-1
    weights: list  # per size block: (block, Linv per pattern, W per subject, whitened residuals)
    G: np.ndarray | None  # (n_groups, m, m) gradient kernel, None when not requested

    def iter_patterns(self):
        """(group, visits, Linv, W, r) of each pattern, for the once-per-fit computations."""
        for block, linv, W, r in self.weights:
            for i in range(len(block.counts)):
                rows = slice(block.starts[i], block.starts[i] + block.counts[i])
                yield block.group[i], block.visits[i], linv[i], W[rows], r[rows]


def _scatter(target, block, values):
    """Add per-pattern (k x k) values into target[..., group, visits, visits]."""
    size = target.shape[-3] * target.shape[-2] * target.shape[-1]
    if values.ndim == 3:
        target += np.bincount(block.flat, weights=values.ravel(), minlength=size).reshape(target.shape)
    else:  # leading axis of several kernels
        for q in range(values.shape[0]):
            target[q] += np.bincount(block.flat, weights=values[q].ravel(), minlength=size).reshape(target.shape[1:])


class PatternData:
    """Response, design and visit/subject/group codes arranged in missingness patterns,
    batched by pattern size so that every evaluation is a few array operations."""

    def __init__(self, y, X, subject, visit, group, n_visits, n_groups):
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        subject = np.asarray(subject)
        visit = np.asarray(visit, dtype=np.int64)
        group = np.asarray(group, dtype=np.int64)
        if n_visits > 62:
            raise ValueError("at most 62 visits are supported")
        self.n_obs, self.p = X.shape
        self.n_visits = n_visits
        self.n_groups = n_groups
        order = np.lexsort((visit, subject))
        y, X, subject, visit, group = y[order], X[order], subject[order], visit[order], group[order]
        _, first, counts = np.unique(subject, return_index=True, return_counts=True)
        self.n_subjects = counts.size
        subj_idx = np.repeat(np.arange(self.n_subjects), counts)
        masks = np.zeros(self.n_subjects, dtype=np.int64)
        np.add.at(masks, subj_idx, np.left_shift(np.int64(1), visit))
        subject_group = group[first]
        row_start = np.concatenate([[0], np.cumsum(counts)])
        self.blocks: list[SizeBlock] = []
        for k in np.unique(counts):
            members = np.flatnonzero(counts == k)
            # sort the block's subjects by (group, visit mask): patterns become contiguous
            members = members[np.lexsort((masks[members], subject_group[members]))]
            key = subject_group[members] * (1 << 62) + masks[members] if n_groups > 1 else masks[members]
            _, starts, pattern_counts = np.unique(key, return_index=True, return_counts=True)
            order_p = np.argsort(starts)
            starts, pattern_counts = starts[order_p], pattern_counts[order_p]
            pattern_of = np.repeat(np.arange(len(starts)), pattern_counts)
            rows = row_start[members][:, None] + np.arange(k)[None, :]
            v = visit[rows[starts]]
            g = subject_group[members][starts]
            flat = ((g[:, None, None] * n_visits + v[:, :, None]) * n_visits + v[:, None, :]).ravel()
            self.blocks.append(SizeBlock(
                k=int(k), visits=visit[rows[starts]], group=subject_group[members][starts],
                starts=starts, counts=pattern_counts, pattern_of=pattern_of,
                X=X[rows], y=y[rows], rows=order[rows], flat=flat,
            ))

    @property
    def n_patterns(self) -> int:
        return sum(len(b.counts) for b in self.blocks)

    # ------------------------------------------------------------------------------------
    def evaluate(self, sigmas, reml: bool = True, gradient: bool = False) -> Evaluation:
        """-2 log-likelihood (REML or ML) at the given visit covariances (one per group)."""
        p = self.p
        stack = np.asarray(sigmas)
        xtvx = np.zeros((p, p))
        xtvy = np.zeros(p)
        logdet = 0.0
        whitened = []
        for b in self.blocks:
            sub = stack[b.group[:, None, None], b.visits[:, :, None], b.visits[:, None, :]]
            try:
                chol = np.linalg.cholesky(sub)
            except np.linalg.LinAlgError:
                raise NotPositiveDefinite("visit covariance is not positive definite") from None
            linv = np.linalg.inv(chol)  # (n_patterns, k, k), lower triangular
            per_subject = linv[b.pattern_of]
            W = per_subject @ b.X  # (n, k, p)
            z = np.einsum("sab,sb->sa", per_subject, b.y)
            W2 = W.reshape(-1, p)
            xtvx += W2.T @ W2
            xtvy += W2.T @ z.ravel()
            logdet += 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1) @ b.counts)
            whitened.append((b, linv, W, z))
        try:
            chol_x = linalg.cho_factor(xtvx, lower=True)
        except linalg.LinAlgError:
            raise NotPositiveDefinite("X'V^-1X is singular: the design is rank deficient") from None
        beta = linalg.cho_solve(chol_x, xtvy)
        phi_beta = linalg.cho_solve(chol_x, np.eye(p))
        quad = 0.0
        weights = []
        for b, linv, W, z in whitened:
            r = z - W @ beta
            quad += float(np.sum(r * r))
            weights.append((b, linv, W, r))
        neg2ll = logdet + quad + self.n_obs * LOG_2PI
        if reml:
            neg2ll += 2.0 * np.log(np.diag(chol_x[0])).sum() - p * LOG_2PI
        G = None
        if gradient:
            G = np.zeros((self.n_groups, self.n_visits, self.n_visits))
            for b, linv, W, r in weights:
                inner = -(r[:, :, None] * r[:, None, :])
                if reml:
                    inner -= (W @ phi_beta) @ np.swapaxes(W, 1, 2)
                inner = np.add.reduceat(inner, b.starts, axis=0) + b.counts[:, None, None] * np.eye(b.k)
                _scatter(G, b, np.swapaxes(linv, 1, 2) @ inner @ linv)
        return Evaluation(float(neg2ll), beta, phi_beta, weights, G)

    def quadratic_kernel(self, evaluation: Evaluation, u: np.ndarray) -> np.ndarray:
        """Kernel K (q x groups x m x m) with  u' X'V^-1 (dV/dphi_k) V^-1 X u = <dSigma_k, K>.

        Used for the derivative of a contrast variance: d(c'Phi c)/dphi_k = (Phi c)' P_k (Phi c).
        """
        u = np.atleast_2d(u)  # (q, p): several vectors at once
        K = np.zeros((u.shape[0], self.n_groups, self.n_visits, self.n_visits))
        for b, linv, W, _ in evaluation.weights:
            w = np.einsum("sap,qp->qsa", W, u)  # (q, n, k)
            outer = np.add.reduceat(w[:, :, :, None] * w[:, :, None, :], b.starts, axis=1)
            _scatter(K, b, np.swapaxes(linv, 1, 2)[None] @ outer @ linv[None])
        return K


def expected_information(data: PatternData, evaluation: Evaluation, jacobians, reml: bool = True,
                         fixed_effects_term: bool = True) -> np.ndarray:
    """Expected Hessian of -2 log-likelihood with respect to covariance parameters.

    .. math::
        E_{kl} = \\operatorname{tr}(PV_kPV_l) = \\sum_p \\big[n_p\\operatorname{tr}(M_kM_l)
        - 2\\operatorname{tr}(S_pM_kM_l)\\big] + \\operatorname{tr}(\\Phi P_k\\Phi P_l)

    with :math:`M_k = L^{-1}\\Sigma_kL^{-T}` per pattern, :math:`S_p = \\sum_i W_i\\Phi W_i'` and
    :math:`P_k = \\sum_i W_i'M_kW_i`; for ML only the first term (Harville 1977). ``jacobians``
    is a list (one per group) of ``d Sigma / d params`` arrays; parameters are stacked by group.
    ``fixed_effects_term=False`` drops the last, O(p/n), term, whose cost grows as
    (parameters x p^2): the optimiser uses that cheaper matrix only to choose its steps.
    """
    sizes = [J.shape[0] for J in jacobians]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n_par = int(offsets[-1])
    Phi = evaluation.vcov_beta
    E = np.zeros((n_par, n_par))
    with_p = reml and fixed_effects_term
    P = np.zeros((n_par, data.p, data.p)) if with_p else None
    for b, linv, W, _ in evaluation.weights:
        for g in np.unique(b.group):
            sel = np.flatnonzero(b.group == g)
            J = jacobians[g]
            sub = J[:, b.visits[sel][:, :, None], b.visits[sel][:, None, :]]  # (K, n_pat, k, k)
            L = linv[sel]
            M = L[:, None] @ np.swapaxes(sub, 0, 1) @ np.swapaxes(L, 1, 2)[:, None]  # (n_pat, K, k, k)
            counts = b.counts[sel]
            C = counts[:, None, None] * np.eye(b.k)
            if reml:
                starts = b.starts[sel]
                rows = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)])
                Wg = W[rows]
                A = (Wg @ Phi) @ np.swapaxes(Wg, 1, 2)
                local_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
                C = C - 2.0 * np.add.reduceat(A, local_starts, axis=0)
                if with_p:
                    pattern_of = np.repeat(np.arange(len(sel)), counts)
                    MW = np.einsum("skab,sbq->skaq", M[pattern_of], Wg)
                    P[offsets[g]:offsets[g + 1]] += np.einsum("sap,skaq->kpq", Wg, MW)
            MC = M @ C[:, None]
            n_pat, K = M.shape[:2]
            # tr(M_k C M_l) = <M_k C, M_l'> summed over patterns (M_l symmetric)
            E[offsets[g]:offsets[g + 1], offsets[g]:offsets[g + 1]] += np.einsum(
                "pki,pli->kl", MC.reshape(n_pat, K, -1), M.reshape(n_pat, K, -1), optimize=True)
    if with_p:
        PhiP = Phi[None] @ P  # (K, p, p)
        E += np.einsum("kpq,lqp->kl", PhiP, PhiP)
    return 0.5 * (E + E.T)
