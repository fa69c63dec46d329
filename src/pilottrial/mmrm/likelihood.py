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

__all__ = ["Pattern", "PatternData", "Evaluation", "NotPositiveDefinite"]

LOG_2PI = np.log(2.0 * np.pi)


class NotPositiveDefinite(ArithmeticError):
    """A covariance matrix or X'V^-1 X is not positive definite at these parameters."""


@dataclass
class Pattern:
    """Subjects of one group observed at the same visits."""

    group: int
    visits: np.ndarray  # indices into the visit order, shape (k,)
    X: np.ndarray  # (n_subjects, k, p)
    y: np.ndarray  # (n_subjects, k)
    subjects: np.ndarray  # subject index of each block row
    rows: np.ndarray  # (n_subjects, k) row numbers in the model frame


@dataclass
class Evaluation:
    """Everything computed at one value of the covariance parameters."""

    neg2ll: float
    beta: np.ndarray
    vcov_beta: np.ndarray  # Phi = (X'V^-1X)^-1
    weights: list  # per pattern: (Linv, W, whitened residuals)
    G: np.ndarray | None  # (n_groups, m, m) gradient kernel, None when not requested


class PatternData:
    """Response, design and visit/subject/group codes arranged in missingness patterns."""

    def __init__(self, y, X, subject, visit, group, n_visits, n_groups):
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        subject = np.asarray(subject)
        visit = np.asarray(visit, dtype=np.int64)
        group = np.asarray(group, dtype=np.int64)
        self.n_obs, self.p = X.shape
        self.n_visits = n_visits
        self.n_groups = n_groups
        order = np.lexsort((visit, subject))
        y, X, subject, visit, group = y[order], X[order], subject[order], visit[order], group[order]
        self.row_order = order
        subj_codes, first, counts = np.unique(subject, return_index=True, return_counts=True)
        self.n_subjects = subj_codes.size
        subj_idx = np.repeat(np.arange(self.n_subjects), counts)
        if n_visits > 62:
            raise ValueError("at most 62 visits are supported")
        masks = np.zeros(self.n_subjects, dtype=np.int64)
        np.add.at(masks, subj_idx, np.left_shift(np.int64(1), visit))
        subject_group = group[first]
        self.subject_group = subject_group
        key = np.array([f"{g}:{mk}" for g, mk in zip(subject_group, masks)])
        self.patterns: list[Pattern] = []
        row_start = np.concatenate([[0], np.cumsum(counts)])
        for pattern_key in np.unique(key):
            members = np.flatnonzero(key == pattern_key)
            k = counts[members[0]]
            rows = (row_start[members][:, None] + np.arange(k)[None, :])
            self.patterns.append(
                Pattern(
                    group=int(subject_group[members[0]]),
                    visits=visit[rows[0]],
                    X=X[rows],
                    y=y[rows],
                    subjects=members,
                    rows=order[rows],
                )
            )

    # ------------------------------------------------------------------------------------
    def evaluate(self, sigmas, reml: bool = True, gradient: bool = False) -> Evaluation:
        """-2 log-likelihood (REML or ML) at the given visit covariances (one per group)."""
        p = self.p
        xtvx = np.zeros((p, p))
        xtvy = np.zeros(p)
        logdet = 0.0
        whitened = []
        for pat in self.patterns:
            sub = sigmas[pat.group][np.ix_(pat.visits, pat.visits)]
            try:
                chol = np.linalg.cholesky(sub)
            except np.linalg.LinAlgError:
                raise NotPositiveDefinite("visit covariance is not positive definite") from None
            linv = linalg.solve_triangular(chol, np.eye(len(pat.visits)), lower=True)
            W = linv @ pat.X  # (n, k, p)
            z = pat.y @ linv.T  # (n, k)
            W2 = W.reshape(-1, p)
            xtvx += W2.T @ W2
            xtvy += W2.T @ z.ravel()
            logdet += pat.y.shape[0] * 2.0 * np.log(np.diag(chol)).sum()
            whitened.append((linv, W, z))
        try:
            chol_x = linalg.cho_factor(xtvx, lower=True)
        except linalg.LinAlgError:
            raise NotPositiveDefinite("X'V^-1X is singular: the design is rank deficient") from None
        beta = linalg.cho_solve(chol_x, xtvy)
        phi_beta = linalg.cho_solve(chol_x, np.eye(p))
        quad = 0.0
        resid = []
        for linv, W, z in whitened:
            r = z - W @ beta
            quad += float(np.sum(r * r))
            resid.append(r)
        neg2ll = logdet + quad + self.n_obs * LOG_2PI
        if reml:
            neg2ll += 2.0 * np.log(np.diag(chol_x[0])).sum() - p * LOG_2PI
        G = None
        if gradient:
            G = np.zeros((self.n_groups, self.n_visits, self.n_visits))
            for pat, (linv, W, _), r in zip(self.patterns, whitened, resid):
                k = len(pat.visits)
                inner = pat.y.shape[0] * np.eye(k) - r.T @ r
                if reml:
                    A = W @ phi_beta  # (n, k, p)
                    inner -= np.einsum("sap,sbp->ab", A, W)
                G[pat.group][np.ix_(pat.visits, pat.visits)] += linv.T @ inner @ linv
        weights = [(linv, W, r) for (linv, W, _), r in zip(whitened, resid)]
        return Evaluation(float(neg2ll), beta, phi_beta, weights, G)

    def quadratic_kernel(self, evaluation: Evaluation, u: np.ndarray) -> np.ndarray:
        """Kernel K (groups x m x m) with  u' X'V^-1 (dV/dphi_k) V^-1 X u = <dSigma_k, K>.

        Used for the derivative of a contrast variance: d(c'Phi c)/dphi_k = (Phi c)' P_k (Phi c).
        """
        u = np.atleast_2d(u)  # (q, p): several vectors at once
        K = np.zeros((u.shape[0], self.n_groups, self.n_visits, self.n_visits))
        for pat, (linv, W, _) in zip(self.patterns, evaluation.weights):
            w = np.einsum("sap,qp->qsa", W, u)  # (q, n, k)
            outer = np.einsum("qsa,qsb->qab", w, w)
            block = K[:, pat.group]  # view, (q, m, m)
            block[:, pat.visits[:, None], pat.visits[None, :]] += linv.T @ outer @ linv
        return K
