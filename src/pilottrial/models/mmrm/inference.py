"""Small-sample inference for the MMRM: Satterthwaite and Kenward-Roger degrees of freedom.

Both work in the natural (SAS) covariance parameters :math:`\\phi`, with
:math:`\\Phi = (X'V^{-1}X)^{-1}` and :math:`P_k = X'V^{-1}V_kV^{-1}X`, :math:`V_k =
\\partial V/\\partial\\phi_k`, so that :math:`\\partial\\Phi/\\partial\\phi_k = \\Phi P_k\\Phi`.
"""

from __future__ import annotations

import numpy as np

from pilottrial.models.mmrm.likelihood import expected_information

__all__ = ["numerical_hessian", "observed_information", "satterthwaite_df", "kenward_roger_setup",
           "kenward_roger", "LINEAR_IN_PHI"]

#: Structures whose covariance is linear in SAS's parameters (second derivatives zero).
LINEAR_IN_PHI = frozenset({"us", "cs"})


def numerical_hessian(grad_fn, x: np.ndarray, grad_at_x: np.ndarray | None = None) -> np.ndarray:
    """Hessian by finite differences of an analytic gradient, symmetrised.

    Central differences (step ~ eps^(1/3), error ~1e-10 relative); with ``grad_at_x`` given,
    forward differences (step ~ eps^(1/2), half the gradient evaluations, error ~1e-7 relative,
    far inside every tolerance on degrees of freedom).
    """
    x = np.asarray(x, dtype=float)
    cols = []
    if grad_at_x is None:
        steps = 6e-6 * np.maximum(np.abs(x), 1.0)
        for k, h in enumerate(steps):
            up, down = x.copy(), x.copy()
            up[k] += h
            down[k] -= h
            cols.append((grad_fn(up) - grad_fn(down)) / (2 * h))
    else:
        steps = 1e-7 * np.maximum(np.abs(x), 1.0)
        for k, h in enumerate(steps):
            up = x.copy()
            up[k] += h
            cols.append((grad_fn(up) - grad_at_x) / h)
    H = np.column_stack(cols)
    return 0.5 * (H + H.T)


def observed_information(data, evaluation, spec, phi, reml: bool = True) -> np.ndarray:
    r"""Hessian of -2 log-likelihood (REML or ML, :math:`\beta` profiled) in the natural
    covariance parameters :math:`\phi`, analytic.

    .. math::
        H_{kl} = \langle \Sigma_{kl}, G\rangle - \operatorname{tr}(PV_kPV_l)
        + 2\,y'PV_kPV_lPy,\qquad P = V^{-1} - V^{-1}X\Phi X'V^{-1},

    with :math:`G` the gradient kernel of :meth:`PatternData.evaluate` and :math:`\Sigma_{kl}` the
    second derivatives of the visit covariance (zero for :data:`LINEAR_IN_PHI`, else central
    differences of the Jacobian, whose error is multiplied by :math:`G \approx 0` at the
    estimate). For ML the trace is :math:`\operatorname{tr}(V^{-1}V_kV^{-1}V_l)` (Harville 1977;
    Jennrich & Schluchter 1986). With :math:`Py = V^{-1}r` stacked per subject as
    ``evaluation.rho`` and :math:`u_k = V_kPy`, the last term is
    :math:`2\{u_k'V^{-1}u_l - (X'V^{-1}u_k)'\Phi(X'V^{-1}u_l)\}`. ``evaluation`` must hold the
    gradient (``evaluate(..., gradient=True)``) at ``phi``.
    """
    jac = spec.jac_phi(phi)
    E = expected_information(data, evaluation, jac, reml=reml, fixed_effects_term=True)
    n_par = E.shape[0]
    m, p, k_g = data.n_visits, data.p, spec.k
    rho = evaluation.rho  # (n, m)
    U = np.zeros((data.n_subjects, m, n_par))  # u_k of each subject (its group's parameters only)
    for g, J in enumerate(jac):
        s, e = data.group_bounds[g] if data.n_groups > 1 else (0, data.n_subjects)
        U[s:e, :, g * k_g:(g + 1) * k_g] = (rho[s:e] @ J.transpose(2, 1, 0).reshape(m, m * k_g)).reshape(
            e - s, m, k_g)
    A = evaluation.sinv[data.pattern_of] @ U  # Sigma_i^-1 u_k
    flat = U.reshape(-1, n_par)
    XU = evaluation.VY[:, :p].T @ flat  # X'V^-1 u_k
    Q = flat.T @ A.reshape(-1, n_par) - XU.T @ evaluation.vcov_beta @ XU
    H = 2.0 * Q - E
    if spec.structure.name not in LINEAR_IN_PHI:
        for g, d2 in enumerate(_second_derivatives(spec, phi)):
            H[g * k_g:(g + 1) * k_g, g * k_g:(g + 1) * k_g] += np.einsum("ijab,ab->ij", d2, evaluation.G[g])
    return 0.5 * (H + H.T)


def _contract_kernel(spec, phi, K):
    """<dSigma/dphi_k, K[q, g]> for every vector q and parameter k: (q, n_params)."""
    jac = spec.jac_phi(phi)
    return np.concatenate([np.einsum("kab,qab->qk", J, K[:, g]) for g, J in enumerate(jac)], axis=1)


def satterthwaite_df(data, evaluation, spec, phi, phi_vcov, L) -> np.ndarray:
    """Satterthwaite df of each row ``c`` of ``L``: :math:`2(c'\\Phi c)^2 / (g'Ag)`.

    :math:`g_k = (\\Phi c)' P_k (\\Phi c)` and :math:`A` the asymptotic covariance of
    :math:`\\hat\\phi` (twice the inverse Hessian of :math:`-2\\ell`).
    """
    Phi = evaluation.vcov_beta
    U = L @ Phi
    var = np.einsum("qp,qp->q", U, L)
    g = _contract_kernel(spec, phi, data.quadratic_kernel(evaluation, U))
    denom = np.einsum("qk,kl,ql->q", g, phi_vcov, g)
    with np.errstate(divide="ignore"):
        return 2.0 * var**2 / denom


def _second_derivatives(spec, phi, step=1e-5):
    """d2 Sigma / dphi_i dphi_j per group by central differences of the complex-step Jacobian."""
    out = []
    for p in spec.split(phi):
        k = p.size
        m = spec.n_visits
        d2 = np.zeros((k, k, m, m))
        for i in range(k):
            h = step * max(abs(p[i]), 1.0)
            up, down = p.copy(), p.copy()
            up[i] += h
            down[i] -= h
            d2[i] = (spec.structure.jacobian_phi(up, m) - spec.structure.jacobian_phi(down, m)) / (2 * h)
        out.append(0.5 * (d2 + d2.transpose(1, 0, 2, 3)))
    return out


def kenward_roger_setup(data, evaluation, spec, phi, phi_vcov, linear: bool = False) -> dict:
    """Pieces of the Kenward-Roger (1997) method and the adjusted covariance.

    .. math::
        \\Phi_A = \\Phi + 2\\Phi\\Big[\\sum_{ij} W_{ij}\\big(Q_{ij} - P_i\\Phi P_j
        - \\tfrac14 R_{ij}\\big)\\Big]\\Phi

    with :math:`Q_{ij} = X'V^{-1}V_iV^{-1}V_jV^{-1}X`, :math:`R_{ij} = X'V^{-1}V_{ij}V^{-1}X`
    (second derivatives; zero for the "linear" variant, SAS's ``DDFM=KR(LINEAR)``) and
    :math:`W` the asymptotic covariance of :math:`\\hat\\phi`.
    """
    p = data.p
    k_g = spec.k
    n_par = k_g * spec.n_groups
    jac = spec.jac_phi(phi)
    d2 = None if linear else _second_derivatives(spec, phi)
    P = np.zeros((n_par, p, p))
    Q = np.zeros((n_par, n_par, p, p))
    R = np.zeros((n_par, n_par, p, p))
    for g, visits, linv, W, _ in evaluation.iter_patterns():
        sl = slice(g * k_g, (g + 1) * k_g)
        v = np.ix_(visits, visits)
        M = np.einsum("ab,kbc,dc->kad", linv, jac[g][(slice(None),) + v], linv)
        T = np.einsum("sap,sbq->abpq", W, W)
        P[sl] += np.einsum("iab,abpq->ipq", M, T)
        MM = np.einsum("iab,jbc->ijac", M, M)
        Q[sl, sl] += np.einsum("ijac,acpq->ijpq", MM, T)
        if d2 is not None:
            M2 = np.einsum("ab,ijbc,dc->ijad", linv, d2[g][(slice(None), slice(None)) + v], linv)
            R[sl, sl] += np.einsum("ijab,abpq->ijpq", M2, T)
    Phi = evaluation.vcov_beta
    Wc = phi_vcov
    PPhiP = np.einsum("ipq,qr,jrs->ijps", P, Phi, P)
    middle = np.einsum("ij,ijpq->pq", Wc, Q - PPhiP - 0.25 * R)
    adjusted = Phi + 2.0 * Phi @ middle @ Phi
    return {"Phi": Phi, "P": P, "W": Wc, "vcov_adjusted": 0.5 * (adjusted + adjusted.T),
            "beta": evaluation.beta}


def kenward_roger(kr: dict, L: np.ndarray) -> dict:
    """Kenward-Roger F test of ``L beta = 0``: scaled F, numerator and denominator df."""
    L = np.atleast_2d(L)
    q = L.shape[0]
    Phi, P, W, Phi_A, beta = kr["Phi"], kr["P"], kr["W"], kr["vcov_adjusted"], kr["beta"]
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    B_i = np.einsum("pq,qr,irs,st->ipt", Theta, Phi, P, Phi)  # Theta Phi P_i Phi
    tr_i = np.einsum("ipp->i", B_i)
    A1 = tr_i @ W @ tr_i
    A2 = np.einsum("ij,ipq,jqp->", W, B_i, B_i)
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    denom = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    E_star = 1.0 / (1 - A2 / q)
    V_star = (2.0 / q) * (1 + c1 * B) / ((1 - c2 * B) ** 2 * (1 - c3 * B))
    rho = V_star / (2 * E_star**2)
    df = 4 + (q + 2) / (q * rho - 1)
    lam = df / (E_star * (df - 2))
    Lb = L @ beta
    F = float(Lb @ np.linalg.solve(L @ Phi_A @ L.T, Lb)) / q
    return {"F": lam * F, "num_df": q, "df": float(df), "scale": float(lam)}
