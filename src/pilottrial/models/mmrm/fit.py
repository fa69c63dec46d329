"""Fitting the MMRM: formula -> design, optimisation with fallbacks, and the results object."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from formulaic import Formula
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

from .inference import kenward_roger, kenward_roger_setup, numerical_hessian, satterthwaite_df
from .likelihood import NotPositiveDefinite, PatternData, expected_information
from .structures import get_structure, sigma_jacobian

__all__ = ["fit_mmrm", "mmrm_at", "MMRMFit", "MMRMError", "DF_METHODS"]

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual")
OPTIMIZERS = ("scoring", "BFGS", "L-BFGS-B", "Powell")


class MMRMError(ValueError):
    """The model cannot be fitted as specified; the message says why and what to change."""


@dataclass
class _Spec:
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


def _contract(jacobians, G):
    """sum_ab dSigma_k[a,b] * G[a,b], stacked over groups."""
    return np.concatenate([np.einsum("kab,ab->k", J, G[g]) for g, J in enumerate(jacobians)])


@dataclass
class MMRMFit:
    """Results of :func:`fit_mmrm` (see that function for the model)."""

    formula: str
    structure: str
    method: str
    df_method: str
    terms: list
    beta: np.ndarray
    vcov: np.ndarray  # model-based (X'V^-1X)^-1, or the Kenward-Roger adjusted one
    vcov_unadjusted: np.ndarray
    phi: np.ndarray
    phi_names: list
    phi_vcov: np.ndarray  # asymptotic covariance of the natural covariance parameters
    neg2_loglik: float
    n_obs: int
    n_subjects: int
    n_subjects_input: int
    visits: list
    groups: list
    sigmas: list
    converged: bool
    optimizer: str
    attempts: list = field(default_factory=list)
    subject: str = ""
    response: str = ""
    visit_name: str = ""
    _data: PatternData | None = None
    _spec: _Spec | None = None
    _evaluation: object = None
    _hessian: np.ndarray | None = None
    _model_spec: object = None
    _frame: pd.DataFrame | None = None
    _factors: dict | None = None
    _numerics: dict | None = None
    _kr: dict | None = None
    _grid: tuple | None = None

    # ---- data, fitted values and residuals ------------------------------------------------
    @property
    def model_frame(self) -> pd.DataFrame:
        """The rows the model used (complete response and covariates), with categorical factors."""
        return self._frame

    @property
    def factor_levels(self) -> dict:
        """Levels of each categorical term of the formula, ``{column: [levels]}``."""
        return dict(self._factors or {})

    def fitted(self) -> pd.Series:
        r"""Fitted means :math:`X\hat\beta`, one per row of :attr:`model_frame`."""
        return pd.Series(self.design(self._frame) @ np.asarray(self.beta, dtype=float),
                         index=self._frame.index, name="fitted")

    def residuals(self) -> pd.DataFrame:
        """Raw, Pearson and Cholesky-standardized residuals
        (:func:`pilottrial.models.mmrm.residuals.cholesky_residuals`)."""
        from .residuals import cholesky_residuals

        return cholesky_residuals(self)

    def summary(self) -> str:
        """A text summary: model, fit statistics, covariance parameters and fixed effects."""
        lines = [f"MMRM  {self.formula}",
                 f"covariance {self.structure}, {self.method.upper()}, df {self.df_method}; "
                 f"{self.n_subjects} subjects, {self.n_obs} observations, converged: {self.converged} "
                 f"({self.optimizer})",
                 self.fit_statistics().to_string(index=False), "",
                 self.covariance_parameters().to_string(index=False), "",
                 self.coefficients().to_string()]
        return "\n".join(lines)

    def with_kenward_roger(self, information: str = "observed") -> MMRMFit:
        """The same fit with Kenward-Roger inference (linear variant), the covariance of the
        covariance parameters taken from the ``observed`` Hessian (SAS) or the ``expected``
        information (pbkrtest)."""
        if information == "expected":
            E = expected_information(self._data, self._evaluation, self._spec.jac_phi(self.phi), reml=True)
            W = 2.0 * np.linalg.inv(E)
        else:
            W = self.phi_vcov
        kr = kenward_roger_setup(self._data, self._evaluation, self._spec, self.phi, W, linear=True)
        return replace(self, vcov=kr["vcov_adjusted"], df_method="kenward-roger", _kr=kr)

    # ---- fit statistics ----------------------------------------------------------------
    @property
    def n_cov_params(self) -> int:
        return int(self.phi.size)

    @property
    def aic(self) -> float:
        """AIC as SAS computes it: -2LL + 2q (q: covariance parameters, + p under ML)."""
        return self.neg2_loglik + 2 * self._n_aic_params

    @property
    def aicc(self) -> float:
        q = self._n_aic_params
        n_star = self.n_obs - (len(self.beta) if self.method == "reml" else 0)
        return self.neg2_loglik + 2 * q * n_star / (n_star - q - 1)

    @property
    def bic(self) -> float:
        """BIC as SAS PROC MIXED: the sample size is the number of subjects in the input data,
        including those without a usable observation (SAS's "Subjects" dimension)."""
        return self.neg2_loglik + self._n_aic_params * np.log(self.n_subjects_input)

    @property
    def _n_aic_params(self) -> int:
        return self.n_cov_params + (len(self.beta) if self.method == "ml" else 0)

    @property
    def covariance(self):
        """Estimated visit covariance (DataFrame, visits x visits); a dict by group if grouped."""
        frames = [pd.DataFrame(s, index=self.visits, columns=self.visits) for s in self.sigmas]
        return frames[0] if len(frames) == 1 else dict(zip(self.groups, frames))

    @property
    def correlation(self):
        def corr(s):
            sd = np.sqrt(np.diag(s))
            return pd.DataFrame(s / np.outer(sd, sd), index=self.visits, columns=self.visits)

        frames = [corr(s) for s in self.sigmas]
        return frames[0] if len(frames) == 1 else dict(zip(self.groups, frames))

    @property
    def covariance_parameters(self) -> pd.DataFrame:
        """Natural covariance parameters as SAS labels them, with asymptotic SE."""
        k = len(self.phi) // len(self.groups)
        group = np.repeat(self.groups, k) if len(self.groups) > 1 else [""] * len(self.phi)
        return pd.DataFrame({
            "parameter": self.phi_names,
            "group": group,
            "estimate": self.phi,
            "std_error": np.sqrt(np.clip(np.diag(self.phi_vcov), 0, None)),
        })

    @property
    def fit_statistics(self) -> pd.DataFrame:
        label = "-2 Res Log Likelihood" if self.method == "reml" else "-2 Log Likelihood"
        return pd.DataFrame({
            "statistic": [label, "AIC", "AICC", "BIC"],
            "value": [self.neg2_loglik, self.aic, self.aicc, self.bic],
        })

    # ---- inference ---------------------------------------------------------------------
    def contrast(self, L, alpha: float = 0.05) -> pd.DataFrame:
        """Wald t inference for each row of ``L`` (contrasts of the fixed effects).

        Returns ``estimate, std_error, df, t_value, p_value, ci_lower, ci_upper``.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        est = L @ self.beta
        var = np.einsum("qp,pr,qr->q", L, self.vcov, L)
        se = np.sqrt(var)
        df = self._df(L)
        t_value = est / se
        p_value = 2 * stats.t.sf(np.abs(t_value), df)
        half = stats.t.ppf(1 - alpha / 2, df) * se
        return pd.DataFrame({
            "estimate": est, "std_error": se, "df": df, "t_value": t_value,
            "p_value": p_value, "ci_lower": est - half, "ci_upper": est + half,
        })

    def _df(self, L):
        if self.df_method == "residual":
            return np.full(L.shape[0], float(self.n_obs - np.linalg.matrix_rank(self.vcov)))
        if self.df_method.startswith("kenward-roger"):
            return np.array([kenward_roger(self._kr, row[None, :])["df"] for row in L])
        return satterthwaite_df(self._data, self._evaluation, self._spec, self.phi,
                                self.phi_vcov, L)

    @property
    def coefficients(self) -> pd.DataFrame:
        """Fixed effects: term, estimate, std_error, df, t_value, p_value."""
        table = self.contrast(np.eye(len(self.beta)))
        table.insert(0, "term", self.terms)
        return table[["term", "estimate", "std_error", "df", "t_value", "p_value"]]

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """Fixed-effect design rows (columns as ``terms``) for new rows, e.g. the missing visits
        of a subject for imputation. Factor columns must use the model's levels."""
        frame = frame.copy()
        for name, levels in self._factors.items():
            frame[name] = pd.Categorical(frame[name], categories=levels)
        return np.asarray(self._model_spec.get_model_matrix(frame), dtype=float)

    def _reference_grid(self):
        """All combinations of factor levels (numeric covariates at their mean) and their
        design rows; built once per fit."""
        if self._grid is None:
            levels = {name: list(cats) for name, cats in self._factors.items()}
            names = list(levels)
            grid = pd.DataFrame(list(itertools.product(*[levels[n] for n in names])), columns=names)
            for name in names:
                grid[name] = pd.Categorical(grid[name], categories=levels[name])
            for name, value in self._numerics.items():
                grid[name] = value
            X = np.asarray(self._model_spec.get_model_matrix(grid), dtype=float)
            codes = np.column_stack([grid[n].cat.codes.to_numpy() for n in names]) if names else \
                np.zeros((len(grid), 0), dtype=int)
            self._grid = (names, codes, X)
        return self._grid

    def _grid_rows(self, specs):
        """Design rows of the reference grid, averaged over factors not in ``specs``."""
        names, codes, X = self._reference_grid()
        cols = [names.index(s) for s in specs]
        rows, labels = [], []
        for combo in itertools.product(*[range(len(self._factors[s])) for s in specs]):
            mask = np.all(codes[:, cols] == np.array(combo, dtype=codes.dtype), axis=1) if cols else \
                np.ones(len(X), dtype=bool)
            rows.append(X[mask].mean(axis=0))
            labels.append(tuple(self._factors[s][i] for s, i in zip(specs, combo)))
        return np.array(rows), labels

    def f_test(self, L) -> dict:
        r"""F test of ``L beta = 0`` with small-sample denominator df.

        Satterthwaite: Fai & Cornelius (1996) as SAS: with :math:`L\Phi L' = PDP'`, each
        :math:`\nu_m` is the Satterthwaite df of contrast :math:`p_m'L`,
        :math:`E = \sum_{\nu_m > 2} \nu_m/(\nu_m - 2)` and :math:`\nu = 2E/(E - q)`.
        Kenward-Roger: the scaled F and df of Kenward & Roger (1997).
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        q = np.linalg.matrix_rank(L)
        if q < L.shape[0]:  # keep independent rows
            _, _, vt = np.linalg.svd(L, full_matrices=False)
            L = vt[:q] * 1.0
        if self.df_method.startswith("kenward-roger"):
            out = kenward_roger(self._kr, L)
            F, den = out["F"], out["df"]
        else:
            Lb = L @ self.beta
            LPL = L @ self.vcov @ L.T
            F = float(Lb @ np.linalg.solve(LPL, Lb)) / q
            if self.df_method == "residual":
                den = float(self.n_obs - len(self.beta))
            else:
                _, vecs = np.linalg.eigh(LPL)
                nu = satterthwaite_df(self._data, self._evaluation, self._spec, self.phi, self.phi_vcov,
                                      vecs.T @ L)
                E = float(np.sum(nu[nu > 2] / (nu[nu > 2] - 2)))
                den = 2 * E / (E - q) if E > q else float(np.min(nu))
        return {"num_df": int(q), "den_df": float(den), "F": float(F),
                "p_value": float(stats.f.sf(F, q, den))}

    def type3(self) -> pd.DataFrame:
        """Type III tests of each model term (as SAS PROC MIXED and emmeans ``joint_tests``).

        A factor term's hypothesis is that its equal-weight LS-means differ from the reference
        level's by zero (main effect), or the products of such contrasts (interaction), other factors averaged with equal weights; a numeric
        term's is that its coefficients are zero. Returns ``term, num_df, den_df, F, p_value``.
        """
        rows = []
        p = len(self.beta)
        for term, columns in self._model_spec.term_indices.items():
            name = str(term)
            if name == "1":
                continue
            factors = [str(f.expr) for f in term.factors]
            if all(f in self._factors for f in factors):
                cells, _ = self._grid_rows(factors)
                C = np.ones((1, 1))
                for f in factors:
                    k = len(self._factors[f])
                    # each level minus the reference level (SAS's rows, whose basis the
                    # Fai-Cornelius df depend on)
                    C = np.kron(C, np.eye(k)[1:] - np.eye(k)[0])
                L = C @ cells
            else:
                L = np.eye(p)[columns]
            rows.append({"term": name, **self.f_test(L)})
        return pd.DataFrame(rows)

    def lsmeans(self, specs=None, alpha: float = 0.05) -> pd.DataFrame:
        """Least-squares means over ``specs`` (default: every factor in the model).

        As SAS LSMEANS and emmeans: other factors averaged with equal weights, numeric
        covariates at their mean over the rows used in the fit.
        """
        specs = list(self._factors) if specs is None else [specs] if isinstance(specs, str) else list(specs)
        unknown = [s for s in specs if s not in self._factors]
        if unknown:
            raise MMRMError(f"lsmeans: {unknown} are not factors of the model; factors: {list(self._factors)}")
        L, labels = self._grid_rows(specs)
        table = self.contrast(L, alpha=alpha)
        for i, s in enumerate(specs):
            table.insert(i, s, [lab[i] for lab in labels])
        return table

    def treatment_contrasts(self, arm: str, reference, treatment, visit: str | None = None,
                            alpha: float = 0.05) -> pd.DataFrame:
        """Treatment minus reference difference in LS-means at each visit.

        Returns ``visit, estimate, std_error, df, t_value, ci_lower, ci_upper, p_value``.
        """
        visit = visit or self.visit_name
        if arm not in self._factors:
            raise MMRMError(f"{arm!r} is not a factor of the model; factors: {list(self._factors)}")
        for level in (reference, treatment):
            if level not in self._factors[arm]:
                raise MMRMError(f"arm level {level!r} not found in {arm!r}; levels: {self._factors[arm]}")
        by_visit = visit in self._factors
        L, labels = self._grid_rows([arm, visit] if by_visit else [arm])
        index = {lab: i for i, lab in enumerate(labels)}
        visit_levels = self._factors[visit] if by_visit else ["all visits"]
        key = (lambda a, v: (a, v)) if by_visit else (lambda a, v: (a,))
        D = np.array([L[index[key(treatment, v)]] - L[index[key(reference, v)]] for v in visit_levels])
        table = self.contrast(D, alpha=alpha)
        table.insert(0, "visit", visit_levels)
        return table[["visit", "estimate", "std_error", "df", "t_value", "ci_lower", "ci_upper", "p_value"]]


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


def _empirical_covariances(subject_code, visit_code, residuals, group_code, n_visits, n_groups):
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


def fit_mmrm(data: pd.DataFrame, formula: str, subject: str, visit: str, covariance="us",
             method: str = "reml", df_method: str = "satterthwaite", group: str | None = None,
             visit_levels=None, fallback=None, optimizers=OPTIMIZERS) -> MMRMFit:
    """Fit a mixed model for repeated measures (MMRM).

    Model: :math:`y_{ij} = x_{ij}'\\beta + \\varepsilon_{ij}` with the residuals of subject *i*
    across visits :math:`\\varepsilon_i \\sim N(0, \\Sigma_i)`, :math:`\\Sigma` structured as
    ``covariance`` (optionally one matrix per level of ``group``), estimated by REML or ML;
    rows with a missing response or covariate are dropped (likelihood-based, valid under MAR).

    Parameters
    ----------
    data : long DataFrame, one row per subject x visit.
    formula : Wilkinson formula for the fixed effects, e.g. ``"FEV1 ~ RACE + ARMCD * AVISIT"``.
        Categorical columns use treatment coding; the first category of a pandas Categorical
        (else the first sorted level) is the reference.
    subject, visit : column names; the visit order is the Categorical order (else sorted) or
        ``visit_levels``.
    covariance : ``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``, ``toeph``, ``ad``, ``adh``.
    method : ``"reml"`` or ``"ml"``.
    df_method : ``"satterthwaite"``, ``"kenward-roger"``, ``"kenward-roger-linear"`` or ``"residual"``.
    fallback : structures to try in order if ``covariance`` fails to converge, e.g.
        ``["toeph", "ar1", "cs"]``; the structure used is ``fit.structure``.

    Notes
    -----
    Fixed-effect covariance :math:`\\Phi = (X'V^{-1}X)^{-1}` at the estimate; Satterthwaite df
    :math:`\\nu = 2(c'\\Phi c)^2 / (g'Ag)`, :math:`g = \\partial(c'\\Phi c)/\\partial\\phi`,
    :math:`A` = twice the inverse Hessian of :math:`-2\\ell`, in SAS's covariance parameters
    (Satterthwaite 1946; Fai & Cornelius 1996). Kenward-Roger: Kenward & Roger (1997).

    References
    ----------
    Mallinckrodt et al. (2008) Recommendations for the primary analysis of continuous endpoints
    in longitudinal clinical trials. Drug Inf J 42:303-319.
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
        spec = _Spec(get_structure(name), len(model.visit_levels), len(model.groups))
        result = _optimise(model.patterns, spec, model.start_covariances, reml, optimizers, attempts)
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
    LMM of statsmodels, whose marginal covariance is ``cs``) the same small-sample inference."""
    method, df_method = _check_methods(method, df_method)
    with threadpool_limits(limits=1, user_api="blas"):
        model = _Model(data, formula, subject, visit, group, visit_levels)
        spec = _Spec(get_structure(covariance), len(model.visit_levels), len(model.groups))
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
        self.start_covariances = _empirical_covariances(subject_code, visit_code, ols_resid, group_code,
                                                        len(visit_levels), len(groups))


def _build_fit(model, spec, phi, method, df_method, optimizer_used, attempts):
    """Evaluate at ``phi`` and assemble the results; None if the Hessian is not positive definite."""
    reml = method == "reml"
    data_patterns = model.patterns
    evaluation = data_patterns.evaluate(spec.sigmas_phi(phi), reml=reml, gradient=True)

    def grad_phi(p):
        ev = data_patterns.evaluate(spec.sigmas_phi(p), reml=reml, gradient=True)
        return _contract(spec.jac_phi(p), ev.G)

    gradient = _contract(spec.jac_phi(phi), evaluation.G)
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
        attempts=attempts, _data=data_patterns, _spec=spec, _evaluation=evaluation, _hessian=hessian,
        _model_spec=model.model_spec, _frame=model.frame, _factors=model.factors,
        _numerics=model.numerics, _kr=kr, subject=model.subject, response=model.response,
        visit_name=model.visit,
    )
    return fit


def _fisher_scoring(data_patterns, spec, theta, reml, max_iter=60, tol=1e-11):
    """Fisher scoring (Jennrich & Schluchter 1986) with Armijo step halving.

    Step :math:`-E^{-1}\\nabla`, :math:`E` the expected Hessian of -2 log-likelihood in the
    optimiser's parameters; stops when the scoring decrement :math:`\\nabla'E^{-1}\\nabla` falls
    below ``tol``. Returns an object with ``x`` like scipy's results.
    """

    def state(t):
        ev = data_patterns.evaluate(spec.sigmas_theta(t), reml=reml, gradient=True)
        jac = spec.jac_theta(t)
        return ev, ev.neg2ll, _contract(jac, ev.G), jac

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


def _optimise(data_patterns, spec, starts_cov, reml, optimizers, attempts):
    """Minimise -2 log-likelihood over theta; returns (theta, optimizer) or None."""
    n = data_patterns.n_obs

    def objective(theta):
        try:
            ev = data_patterns.evaluate(spec.sigmas_theta(theta), reml=reml, gradient=True)
        except NotPositiveDefinite:
            return np.inf, np.zeros_like(theta)
        grad = _contract(spec.jac_theta(theta), ev.G)
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
                        res = _fisher_scoring(data_patterns, spec, start, reml)
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


