"""Covariance structures for the residuals of one subject across visits.

Each structure maps two parameter vectors to an ``m x m`` covariance matrix:

* ``theta`` -- unconstrained, used by the optimizer (log standard deviations, correlations
  through ``tanh`` or a sigmoid, Toeplitz correlations through partial autocorrelations), so
  that every ``theta`` gives a positive-definite matrix;
* ``phi`` -- the *natural* parameters in the order and parameterisation SAS PROC MIXED prints
  them (``UN(i,j)``, ``Var(k)``, ``Rho(k)``, ``CS``, ``AR(1)``, ``Residual`` ...). Inference
  (Satterthwaite, Kenward-Roger) is done in ``phi``: Kenward-Roger's adjustment depends on the
  parameterisation through second derivatives of the covariance, and SAS's results are those
  for SAS's parameters.

All ``sigma_*`` functions are written with operations that accept complex input, so that
derivatives are taken exactly by the complex step, :math:`\\partial f/\\partial x =
\\operatorname{Im} f(x + ih)/h` (Squire & Trapp 1998).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Structure", "STRUCTURES", "get_structure", "sigma_jacobian", "CovarianceModel",
           "parameter_gradient"]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    return np.log(p / (1.0 - p))


def _lags(m: int) -> np.ndarray:
    idx = np.arange(m)
    return np.abs(idx[:, None] - idx[None, :])


def _pacf_to_acf(pacf):
    """Partial autocorrelations (each in (-1, 1)) -> autocorrelations at lags 1..m-1.

    Durbin-Levinson recursion; any such sequence gives a positive-definite Toeplitz
    correlation matrix (Barndorff-Nielsen & Schou 1973).
    """
    q = len(pacf)
    acf = [None] * q
    prev: list = []  # AR coefficients of order k-1
    for k in range(q):
        a_kk = pacf[k]
        if k == 0:
            acf[0] = a_kk
            prev = [a_kk]
            continue
        # rho_{k+1} = sum_j prev_j rho_{k+1-j} + a_kk (1 - sum_j prev_j rho_j)
        s1 = sum(prev[j] * acf[k - 1 - j] for j in range(k))
        s2 = sum(prev[j] * acf[j] for j in range(k))
        acf[k] = s1 + a_kk * (1.0 - s2)
        prev = [prev[j] - a_kk * prev[k - 1 - j] for j in range(k)] + [a_kk]
    return acf


def _acf_to_pacf(acf):
    """Inverse of :func:`_pacf_to_acf` (real input), used for starting values."""
    q = len(acf)
    pacf = []
    prev: list = []
    for k in range(q):
        if k == 0:
            a_kk = acf[0]
            prev = [a_kk]
        else:
            s1 = sum(prev[j] * acf[k - 1 - j] for j in range(k))
            s2 = sum(prev[j] * acf[j] for j in range(k))
            a_kk = (acf[k] - s1) / (1.0 - s2)
            a_kk = float(np.clip(a_kk, -0.95, 0.95))
            prev = [prev[j] - a_kk * prev[k - 1 - j] for j in range(k)] + [a_kk]
        pacf.append(float(np.clip(a_kk, -0.95, 0.95)))
    return pacf


def _from_sd_corr(sd, corr):
    return sd[:, None] * corr * sd[None, :]


@dataclass(frozen=True)
class Structure:
    """A covariance structure.

    Attributes
    ----------
    name : the key used in configs and the API (``"us"``, ``"ar1"``, ...).
    label : SAS's ``TYPE=`` name.
    n_params : number of parameters for ``m`` visits.
    sigma_theta : ``theta -> Sigma`` (unconstrained parameters).
    theta_to_phi : ``theta -> phi`` (natural parameters, SAS order).
    sigma_phi : ``phi -> Sigma`` (natural parameters).
    phi_names : names of the natural parameters, SAS's labels.
    start : empirical covariance ``S`` -> starting ``theta``.
    jac_theta, jac_phi : optional analytic ``d Sigma / d theta`` and ``d Sigma / d phi``
        (``K x m x m``); the complex step is used where they are not given.
    """

    name: str
    label: str
    n_params: Callable[[int], int]
    sigma_theta: Callable
    theta_to_phi: Callable
    sigma_phi: Callable
    phi_names: Callable[[int], list]
    start: Callable
    jac_theta: Callable | None = None
    jac_phi: Callable | None = None

    def jacobian_theta(self, theta, m):
        if self.jac_theta is not None:
            return self.jac_theta(np.asarray(theta, dtype=float), m)
        return sigma_jacobian(self.sigma_theta, theta, m)

    def jacobian_phi(self, phi, m):
        if self.jac_phi is not None:
            return self.jac_phi(np.asarray(phi, dtype=float), m)
        return sigma_jacobian(self.sigma_phi, phi, m)


# --- unstructured -----------------------------------------------------------------------
@lru_cache(maxsize=64)
def _us_tril(m):
    rows, cols = np.tril_indices(m)  # row-wise lower triangle: (1,1) (2,1) (2,2) (3,1) ...
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


@lru_cache(maxsize=64)
def _us_jac_phi_const(m):
    """Sigma is linear in its elements: d Sigma / d sigma_ij = E_ij + E_ji."""
    rows, cols = _us_tril(m)
    jac = np.zeros((rows.size, m, m))
    k = np.arange(rows.size)
    jac[k, rows, cols] = 1.0
    jac[k, cols, rows] = 1.0
    jac.flags.writeable = False
    return jac


def _us_jac_phi(phi, m):
    return _us_jac_phi_const(m)


def _us_jac_theta(theta, m):
    """Sigma = C C' with C lower triangular (log diagonal): dSigma = dC C' + C dC'.

    For the element (i, j) of C, dC C' has row i equal to C[:, j] (times C_ii on the
    diagonal, the derivative of exp), and C dC' the same column.
    """
    rows, cols = _us_tril(m)
    chol = np.zeros((m, m))
    chol[rows, cols] = theta
    diag = np.arange(m)
    chol[diag, diag] = np.exp(chol[diag, diag])
    scale = np.where(rows == cols, chol[rows, cols], 1.0)
    vectors = scale[:, None] * chol[:, cols].T  # (K, m): the column C[:, j] for each parameter
    k = np.arange(rows.size)
    jac = np.zeros((rows.size, m, m))
    jac[k, rows, :] += vectors
    jac[k, :, rows] += vectors
    return jac


def _us_sigma_theta(theta, m):
    rows, cols = _us_tril(m)
    chol = np.zeros((m, m), dtype=np.result_type(theta, float))
    chol[rows, cols] = theta
    diag = np.arange(m)
    chol[diag, diag] = np.exp(chol[diag, diag])
    return chol @ chol.T


def _us_sigma_phi(phi, m):
    rows, cols = _us_tril(m)
    sigma = np.zeros((m, m), dtype=np.result_type(phi, float))
    sigma[rows, cols] = phi
    sigma[cols, rows] = phi
    return sigma


def _us_theta_to_phi(theta, m):
    rows, cols = _us_tril(m)
    return _us_sigma_theta(theta, m)[rows, cols]


def _us_start(S):
    m = S.shape[0]
    chol = np.linalg.cholesky(S)
    chol[np.diag_indices(m)] = np.log(np.diag(chol))
    return chol[_us_tril(m)]


def _us_names(m):
    rows, cols = _us_tril(m)
    return [f"UN({i + 1},{j + 1})" for i, j in zip(rows, cols)]


# --- compound symmetry ------------------------------------------------------------------
def _cs_rho(z, m):
    lower = -1.0 / (m - 1) if m > 1 else -1.0
    return lower + (1.0 - lower) * _sigmoid(z)


def _cs_rho_inv(rho, m):
    lower = -1.0 / (m - 1) if m > 1 else -1.0
    p = np.clip((rho - lower) / (1.0 - lower), 0.02, 0.98)
    return _logit(p)


def _cs_sigma_theta(theta, m):
    var = np.exp(theta[0])
    rho = _cs_rho(theta[1], m)
    eye = np.eye(m)
    return var * (rho + (1.0 - rho) * eye)


def _cs_theta_to_phi(theta, m):
    var = np.exp(theta[0])
    rho = _cs_rho(theta[1], m)
    return np.array([var * rho, var * (1.0 - rho)])


def _cs_sigma_phi(phi, m):
    return phi[0] * np.ones((m, m)) + phi[1] * np.eye(m)


def _mean_offdiag_corr(S):
    m = S.shape[0]
    sd = np.sqrt(np.diag(S))
    corr = S / np.outer(sd, sd)
    if m == 1:
        return 0.0
    return float(corr[~np.eye(m, dtype=bool)].mean())


def _cs_start(S):
    m = S.shape[0]
    return np.array([np.log(np.mean(np.diag(S))), _cs_rho_inv(_mean_offdiag_corr(S), m)])


# --- heterogeneous compound symmetry ----------------------------------------------------
def _csh_sigma_theta(theta, m):
    sd = np.exp(theta[:m])
    rho = _cs_rho(theta[m], m)
    corr = rho + (1.0 - rho) * np.eye(m)
    return _from_sd_corr(sd, corr)


def _csh_theta_to_phi(theta, m):
    return np.concatenate([np.exp(2 * theta[:m]), [_cs_rho(theta[m], m)]])


def _csh_sigma_phi(phi, m):
    sd = np.sqrt(phi[:m])
    corr = phi[m] + (1.0 - phi[m]) * np.eye(m)
    return _from_sd_corr(sd, corr)


def _csh_start(S):
    m = S.shape[0]
    return np.concatenate([0.5 * np.log(np.diag(S)), [_cs_rho_inv(_mean_offdiag_corr(S), m)]])


# --- first-order autoregressive ---------------------------------------------------------
def _lag1_corr(S):
    m = S.shape[0]
    if m == 1:
        return 0.0
    sd = np.sqrt(np.diag(S))
    corr = S / np.outer(sd, sd)
    return float(np.clip(np.mean(np.diag(corr, 1)), -0.9, 0.9))


def _ar1_corr(rho, m):
    lags = _lags(m)
    out = np.ones((m, m), dtype=np.result_type(rho, float))
    for lag in range(1, m):
        out[lags == lag] = rho**lag
    return out


def _ar1_sigma_theta(theta, m):
    return np.exp(theta[0]) * _ar1_corr(np.tanh(theta[1]), m)


def _ar1_theta_to_phi(theta, m):
    return np.array([np.tanh(theta[1]), np.exp(theta[0])])


def _ar1_sigma_phi(phi, m):
    return phi[1] * _ar1_corr(phi[0], m)


def _ar1_start(S):
    return np.array([np.log(np.mean(np.diag(S))), np.arctanh(_lag1_corr(S))])


def _ar1h_sigma_theta(theta, m):
    return _from_sd_corr(np.exp(theta[:m]), _ar1_corr(np.tanh(theta[m]), m))


def _ar1h_theta_to_phi(theta, m):
    return np.concatenate([np.exp(2 * theta[:m]), [np.tanh(theta[m])]])


def _ar1h_sigma_phi(phi, m):
    return _from_sd_corr(np.sqrt(phi[:m]), _ar1_corr(phi[m], m))


def _ar1h_start(S):
    return np.concatenate([0.5 * np.log(np.diag(S)), [np.arctanh(_lag1_corr(S))]])


# --- Toeplitz ---------------------------------------------------------------------------
def _toep_corr_from_acf(acf, m, dtype):
    lags = _lags(m)
    out = np.ones((m, m), dtype=dtype)
    for lag in range(1, m):
        out[lags == lag] = acf[lag - 1]
    return out


def _empirical_acf(S):
    m = S.shape[0]
    sd = np.sqrt(np.diag(S))
    corr = S / np.outer(sd, sd)
    return [float(np.mean(np.diag(corr, k))) for k in range(1, m)]


def _toep_sigma_theta(theta, m):
    acf = _pacf_to_acf([np.tanh(t) for t in theta[1:]])
    return np.exp(theta[0]) * _toep_corr_from_acf(acf, m, np.result_type(theta, float))


def _toep_theta_to_phi(theta, m):
    var = np.exp(theta[0])
    acf = _pacf_to_acf([np.tanh(t) for t in theta[1:]])
    return np.array([var * a for a in acf] + [var])


def _toep_sigma_phi(phi, m):
    lags = _lags(m)
    out = np.zeros((m, m), dtype=np.result_type(phi, float))
    out[lags == 0] = phi[m - 1]
    for lag in range(1, m):
        out[lags == lag] = phi[lag - 1]
    return out


def _toep_start(S):
    return np.concatenate([[np.log(np.mean(np.diag(S)))], np.arctanh(_acf_to_pacf(_empirical_acf(S)))])


def _toeph_sigma_theta(theta, m):
    acf = _pacf_to_acf([np.tanh(t) for t in theta[m:]])
    corr = _toep_corr_from_acf(acf, m, np.result_type(theta, float))
    return _from_sd_corr(np.exp(theta[:m]), corr)


def _toeph_theta_to_phi(theta, m):
    acf = _pacf_to_acf([np.tanh(t) for t in theta[m:]])
    return np.concatenate([np.exp(2 * theta[:m]), np.array(acf, dtype=np.result_type(theta, float))])


def _toeph_sigma_phi(phi, m):
    corr = _toep_corr_from_acf(list(phi[m:]), m, np.result_type(phi, float))
    return _from_sd_corr(np.sqrt(phi[:m]), corr)


def _toeph_start(S):
    return np.concatenate([0.5 * np.log(np.diag(S)), np.arctanh(_acf_to_pacf(_empirical_acf(S)))])


# --- first-order ante-dependence --------------------------------------------------------
def _ad_corr(rhos, m, dtype):
    out = np.ones((m, m), dtype=dtype)
    for i in range(m):
        prod = 1.0
        for j in range(i + 1, m):
            prod = prod * rhos[j - 1]
            out[i, j] = prod
            out[j, i] = prod
    return out


def _adjacent_corr(S):
    sd = np.sqrt(np.diag(S))
    corr = S / np.outer(sd, sd)
    return np.clip(np.diag(corr, 1), -0.9, 0.9)


def _ad_sigma_theta(theta, m):
    rhos = [np.tanh(t) for t in theta[1:]]
    return np.exp(theta[0]) * _ad_corr(rhos, m, np.result_type(theta, float))


def _ad_theta_to_phi(theta, m):
    return np.concatenate([[np.exp(theta[0])], np.tanh(theta[1:])])


def _ad_sigma_phi(phi, m):
    return phi[0] * _ad_corr(list(phi[1:]), m, np.result_type(phi, float))


def _ad_start(S):
    return np.concatenate([[np.log(np.mean(np.diag(S)))], np.arctanh(_adjacent_corr(S))])


def _adh_sigma_theta(theta, m):
    rhos = [np.tanh(t) for t in theta[m:]]
    return _from_sd_corr(np.exp(theta[:m]), _ad_corr(rhos, m, np.result_type(theta, float)))


def _adh_theta_to_phi(theta, m):
    return np.concatenate([np.exp(2 * theta[:m]), np.tanh(theta[m:])])


def _adh_sigma_phi(phi, m):
    return _from_sd_corr(np.sqrt(phi[:m]), _ad_corr(list(phi[m:]), m, np.result_type(phi, float)))


def _adh_start(S):
    return np.concatenate([0.5 * np.log(np.diag(S)), np.arctanh(_adjacent_corr(S))])


def _var_names(m):
    return [f"Var({k + 1})" for k in range(m)]


STRUCTURES: dict[str, Structure] = {
    s.name: s
    for s in [
        Structure("us", "UN", lambda m: m * (m + 1) // 2, _us_sigma_theta, _us_theta_to_phi,
                  _us_sigma_phi, _us_names, _us_start, _us_jac_theta, _us_jac_phi),
        Structure("cs", "CS", lambda m: 2, _cs_sigma_theta, _cs_theta_to_phi, _cs_sigma_phi,
                  lambda m: ["CS", "Residual"], _cs_start),
        Structure("csh", "CSH", lambda m: m + 1, _csh_sigma_theta, _csh_theta_to_phi,
                  _csh_sigma_phi, lambda m: _var_names(m) + ["CSH"], _csh_start),
        Structure("ar1", "AR(1)", lambda m: 2, _ar1_sigma_theta, _ar1_theta_to_phi,
                  _ar1_sigma_phi, lambda m: ["AR(1)", "Residual"], _ar1_start),
        Structure("ar1h", "ARH(1)", lambda m: m + 1, _ar1h_sigma_theta, _ar1h_theta_to_phi,
                  _ar1h_sigma_phi, lambda m: _var_names(m) + ["ARH(1)"], _ar1h_start),
        Structure("toep", "TOEP", lambda m: m, _toep_sigma_theta, _toep_theta_to_phi,
                  _toep_sigma_phi, lambda m: [f"TOEP({k + 1})" for k in range(1, m)] + ["Residual"],
                  _toep_start),
        Structure("toeph", "TOEPH", lambda m: 2 * m - 1, _toeph_sigma_theta, _toeph_theta_to_phi,
                  _toeph_sigma_phi, lambda m: _var_names(m) + [f"TOEPH({k})" for k in range(1, m)],
                  _toeph_start),
        Structure("ad", "ANTE(1) homogeneous", lambda m: m, _ad_sigma_theta, _ad_theta_to_phi,
                  _ad_sigma_phi, lambda m: ["Var"] + [f"Rho({k})" for k in range(1, m)], _ad_start),
        Structure("adh", "ANTE(1)", lambda m: 2 * m - 1, _adh_sigma_theta, _adh_theta_to_phi,
                  _adh_sigma_phi, lambda m: _var_names(m) + [f"Rho({k})" for k in range(1, m)],
                  _adh_start),
    ]
}
STRUCTURES["arh1"] = STRUCTURES["ar1h"]  # SAS spells it ARH(1)


def get_structure(name: str) -> Structure:
    """Look a structure up by name (``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``,
    ``toeph``, ``ad``, ``adh``); raises ``ValueError`` listing the known names."""
    try:
        return STRUCTURES[name.lower()]
    except KeyError:
        known = ", ".join(sorted(k for k in STRUCTURES if k != "arh1"))
        raise ValueError(f"unknown covariance structure {name!r}; choose one of: {known}") from None


def sigma_jacobian(sigma_fn: Callable, params: np.ndarray, m: int, step: float = 1e-30) -> np.ndarray:
    """Exact first derivatives ``d Sigma / d params`` (shape ``K x m x m``) by the complex step."""
    params = np.asarray(params, dtype=float)
    out = np.empty((params.size, m, m))
    for k in range(params.size):
        shifted = params.astype(complex)
        shifted[k] += 1j * step
        out[k] = np.imag(sigma_fn(shifted, m)) / step
    return out


@dataclass
class CovarianceModel:
    """A covariance structure over ``n_visits`` visits with one block of parameters per group
    (:math:`k` parameters each): maps the stacked optimiser parameters ``theta`` or SAS's
    natural parameters ``phi`` to the visit covariance matrices of the groups and their
    Jacobians."""

    structure: object
    n_visits: int
    n_groups: int

    @property
    def k(self):
        return self.structure.n_params(self.n_visits)

    def split(self, params):
        return [params[g * self.k:(g + 1) * self.k] for g in range(self.n_groups)]

    def sigmas_theta(self, theta):
        return [self.structure.sigma_theta(t, self.n_visits) for t in self.split(theta)]

    def sigmas_phi(self, phi):
        return [self.structure.sigma_phi(t, self.n_visits) for t in self.split(phi)]

    def jac_theta(self, theta):
        return [self.structure.jacobian_theta(t, self.n_visits) for t in self.split(theta)]

    def jac_phi(self, phi):
        return [self.structure.jacobian_phi(t, self.n_visits) for t in self.split(phi)]

    def theta_to_phi(self, theta):
        return np.concatenate([np.real(self.structure.theta_to_phi(t, self.n_visits))
                               for t in self.split(theta)])


def parameter_gradient(jacobians, G):
    r"""Chain rule from the gradient :math:`G_g` of -2 log-likelihood in each group's visit
    covariance to the parameters: :math:`\sum_{ab} \partial\Sigma_{g,ab}/\partial p_k\, G_{g,ab}`,
    stacked over groups."""
    return np.concatenate([np.einsum("kab,ab->k", J, G[g]) for g, J in enumerate(jacobians)])
