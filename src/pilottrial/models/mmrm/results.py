"""The results of an MMRM fit: estimates, LS-means, contrasts, tests and fit statistics."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import special

from pilottrial.models.mmrm.inference import kenward_roger, kenward_roger_setup, numerical_hessian, satterthwaite_df
from pilottrial.models.mmrm.likelihood import PatternData, expected_information
from pilottrial.models.mmrm.residuals import cholesky_residuals
from pilottrial.models.mmrm.structures import CovarianceModel, parameter_gradient

__all__ = ["MMRMFit", "MMRMError"]


class MMRMError(ValueError):
    """The model cannot be fitted as specified; the message says why and what to change."""


@dataclass
class MMRMFit:
    """Results of :func:`~pilottrial.models.mmrm.fit_mmrm` (see that function for the model).

    Estimates: ``beta`` (fixed effects, named by ``terms``), ``vcov`` (their covariance:
    :math:`(X'V^{-1}X)^{-1}`, or the Kenward-Roger adjusted one), ``phi`` (covariance
    parameters as SAS names them, ``phi_names``) with ``phi_vcov``, ``sigmas`` (the visit
    covariance of each group). Tables: :attr:`coefficients`, :meth:`lsmeans`,
    :meth:`treatment_contrasts`, :meth:`contrast`, :meth:`f_test`, :meth:`type3`,
    :attr:`covariance_parameters`, :attr:`fit_statistics`; text: :meth:`summary`. How the fit
    was reached: ``attempts`` (structures skipped, optimisers failed, budgets spent), ``notes``
    (the same in words, empty when the first structure converged), ``boundary`` (indices of
    covariance parameters estimated on the boundary of their space and held fixed for the
    inference; :attr:`singular` when any).
    """

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
    notes: list = field(default_factory=list)
    boundary: tuple = ()
    subject: str = ""
    response: str = ""
    visit_name: str = ""
    _data: PatternData | None = None
    _spec: CovarianceModel | None = None
    _evaluation: object = None
    _model_spec: object = None
    _frame: pd.DataFrame | None = None
    _factors: dict | None = None
    _numerics: dict | None = None
    _kr: dict | None = None
    _grid: tuple | None = None

    @property
    def singular(self) -> bool:
        """True when a covariance parameter is estimated on the boundary (lme4's singular fit)."""
        return bool(self.boundary)

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
        return cholesky_residuals(self)

    def summary(self) -> str:
        """A text summary: model, fit statistics, covariance parameters and fixed effects."""
        lines = [f"MMRM  {self.formula}",
                 f"covariance {self.structure}, {self.method.upper()}, df {self.df_method}; "
                 f"{self.n_subjects} subjects, {self.n_obs} observations, converged: {self.converged} "
                 f"({self.optimizer})",
                 *[f"note: {n}" for n in self.notes],
                 self.fit_statistics.to_string(index=False), "",
                 self.covariance_parameters.to_string(index=False), "",
                 self.coefficients.to_string(index=False)]
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

    def with_central_hessian(self) -> MMRMFit:
        """The same fit with the covariance of the covariance parameters from a central-difference
        Hessian of -2 log-likelihood (relative error about 1e-10, against about 1e-6 for the
        forward differences of the fit), and the Satterthwaite df that follow from it. For
        Satterthwaite and residual df only (Kenward-Roger fits carry their own :math:`W`)."""
        if self.df_method.startswith("kenward-roger"):
            raise MMRMError("with_central_hessian applies to Satterthwaite or residual df, not Kenward-Roger")
        reml = self.method == "reml"
        free = np.array([k for k in range(self.phi.size) if k not in self.boundary], dtype=int)

        def gradient(phi_free):
            phi = self.phi.copy()
            phi[free] = phi_free
            evaluation = self._data.evaluate(self._spec.sigmas_phi(phi), reml=reml, gradient=True)
            return parameter_gradient(self._spec.jac_phi(phi), evaluation.G)[free]

        hessian = numerical_hessian(gradient, self.phi[free])
        phi_vcov = np.zeros((self.phi.size, self.phi.size))
        phi_vcov[np.ix_(free, free)] = 2.0 * np.linalg.inv(hessian)
        return replace(self, phi_vcov=phi_vcov)

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
        # = 2 * scipy.stats.t.sf(|t|, df) and t.ppf(1 - alpha / 2, df): the functions scipy.stats
        # calls, without importing scipy.stats in every job that fits a model
        p_value = 2 * special.stdtr(df, -np.abs(t_value))
        half = special.stdtrit(df, 1 - alpha / 2) * se
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
        from scipy import stats  # here: scipy.stats.f handles an infinite denominator df

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

    def arm_difference_rows(self, arm: str, reference, treatment, visit: str | None = None) -> tuple[np.ndarray, list]:
        r"""The rows :math:`L` of the fixed effects whose estimates :math:`L\hat\beta` are the
        treatment minus reference differences in LS-means at each visit (those of
        :meth:`treatment_contrasts`), and the visit labels. Several comparisons' rows stacked into
        one :math:`L` give the covariance of their estimates, :math:`L\,\mathrm{vcov}\,L'`, and
        :meth:`contrast` their inference."""
        visit = visit or self.visit_name
        for level in (reference, treatment):
            if arm not in self._factors or level not in self._factors[arm]:
                raise MMRMError(f"arm level {level!r} not found in {arm!r}; factors: {self.factor_levels}")
        by_visit = visit in self._factors
        L, labels = self._grid_rows([arm, visit] if by_visit else [arm])
        index = {lab: i for i, lab in enumerate(labels)}
        visit_levels = list(self._factors[visit]) if by_visit else ["all visits"]
        key = (lambda a, v: (a, v)) if by_visit else (lambda a, v: (a,))
        rows = np.array([L[index[key(treatment, v)]] - L[index[key(reference, v)]] for v in visit_levels])
        return rows, visit_levels
