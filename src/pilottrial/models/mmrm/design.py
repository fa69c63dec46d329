"""The data of one MMRM specification: model frame, fixed-effect design and missingness patterns."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from formulaic import Formula
from scipy import linalg

from pilottrial.models.mmrm.likelihood import PatternData
from pilottrial.models.mmrm.optimise import empirical_covariances
from pilottrial.models.mmrm.results import MMRMError

__all__ = ["ModelData"]


class ModelData:
    """Model frame, design matrix and missingness patterns of one MMRM specification.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per subject x visit; rows missing a model column are dropped.
    formula, subject, visit, group, visit_levels
        As :func:`pilottrial.models.mmrm.fit_mmrm`.

    Attributes
    ----------
    y, X : numpy.ndarray
        Response and fixed-effect design of the rows used (``terms`` name the columns).
    subject_code, visit_code, group_code : numpy.ndarray
        Integer codes of each row's subject (sorted labels), visit (``visit_levels``) and group.
    patterns : pilottrial.models.mmrm.likelihood.PatternData
        The rows arranged by missingness pattern, for the likelihood.
    start_covariances : list of numpy.ndarray
        Pairwise-complete covariances of OLS residuals per group (starting values).

    Raises
    ------
    MMRMError
        Missing columns, no complete rows, fewer than two subjects, duplicated subject x visit
        rows, or a rank-deficient design (the message names the terms not estimable).
    """

    def __init__(self, data, formula, subject, visit, group=None, visit_levels=None):
        formula_obj, frame, factors, numerics, visit_levels, subject_code, visit_code = _prepare(
            data, formula, subject, visit, group, visit_levels)
        if subject_code.max() < 1:
            raise MMRMError("the model needs at least two subjects with data")
        # numpy output: the same columns and model spec as pandas output, without building frames
        response = _plain_response(formula_obj, frame)
        if response is None:
            model_matrix = formula_obj.get_model_matrix(frame, output="numpy")
            y = np.asarray(model_matrix.lhs, dtype=float).ravel()
            rhs = model_matrix.rhs
        else:  # a column: no need to materialise the left-hand side
            y = frame[response].to_numpy(dtype=float)
            rhs = formula_obj.rhs.get_model_matrix(frame, output="numpy")
        X = np.asarray(rhs, dtype=float)
        self.model_spec = DesignSpec(rhs.model_spec, frame, X)
        terms = list(self.model_spec.column_names)
        r = np.linalg.qr(X, mode="r")
        singular_values = np.linalg.svd(r, compute_uv=False)
        # the rank as numpy.linalg.matrix_rank(X) (singular values of R are those of X)
        rank = int(np.sum(singular_values > singular_values.max(initial=0.0) * max(X.shape) * np.finfo(float).eps))
        if rank < X.shape[1]:
            aliased = [terms[j] for j in range(X.shape[1])
                       if j >= r.shape[0] or abs(r[j, j]) < 1e-8 * abs(r).max()]
            raise MMRMError(f"the design is rank deficient (rank {rank} < {X.shape[1]} columns); "
                            f"terms not estimable from these data: {aliased}. Drop or merge them "
                            f"(for example a visit with no observations in one arm)")
        groups = [None]
        group_code = np.zeros(len(frame), dtype=np.int64)
        if group:
            groups = _categorical_levels(frame[group])
            group_code = pd.Categorical(frame[group], categories=groups).codes.astype(np.int64)
        self.formula, self.frame, self.factors, self.numerics = formula, frame, factors, numerics
        self.subject, self.response = subject, formula.split("~")[0].strip()
        self.n_subjects_input = int(data[subject].nunique())
        self.visit, self.visit_levels, self.groups, self.terms = visit, visit_levels, groups, terms
        self.n_obs = len(y)
        self.y, self.X = y, X
        self.subject_code = subject_code
        self.visit_code = visit_code
        self.group_code = group_code
        self.patterns = PatternData(y, X, self.subject_code, self.visit_code, group_code, len(visit_levels),
                                    len(groups))
        # OLS by the semi-normal equations R'R b = X'y: only a starting value
        ols = linalg.solve_triangular(r, linalg.solve_triangular(r, X.T @ y, trans="T"))
        ols_resid = y - X @ ols
        self.start_covariances = empirical_covariances(self.subject_code, self.visit_code, ols_resid, group_code,
                                                        len(visit_levels), len(groups))


class DesignSpec:
    """The fixed-effect model spec (formulaic ``ModelSpec``) with a fast ``get_model_matrix``.

    When every factor of the formula is a data column, numeric or categorical with treatment
    coding (the engine's formulas), design rows are built with numpy: for each term the product
    of its factors' columns (indicators of the levels after the reference for a reduced-rank
    factor, of every level otherwise), in formulaic's column order. The fast rows are checked
    once, against formulaic's matrix of the model frame (values and column names equal); any
    other formula, a frame with missing values or an unknown level, and every keyword argument
    go to formulaic. Other attributes (``term_indices``, ``column_names``, ...) are the spec's.
    """

    def __init__(self, spec, frame: pd.DataFrame, X: np.ndarray):
        self.spec = spec
        self.plan = _fast_plan(spec)
        if self.plan is not None:
            fast = self._fast(frame)
            if fast is None or fast.shape != X.shape or not np.array_equal(fast, X):
                self.plan = None

    def __getattr__(self, name):
        if name in ("spec", "plan") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.spec, name)

    def get_model_matrix(self, data, **kwargs):
        """Design rows of ``data`` (numpy array; formulaic's ``ModelMatrix`` on the slow path)."""
        if self.plan is not None and not kwargs and isinstance(data, pd.DataFrame):
            X = self._fast(data)
            if X is not None:
                return X
        return self.spec.get_model_matrix(data, **kwargs)

    def _fast(self, data: pd.DataFrame) -> np.ndarray | None:
        n = len(data)
        encoded = {}
        for name, levels in self.plan["factors"].items():
            if name not in data:
                return None
            column = data[name]
            if levels is None:  # numeric
                if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                    return None
                values = column.to_numpy(dtype=float)
                if np.isnan(values).any():
                    return None
                encoded[name] = values
            else:
                codes = _codes(column, levels)
                if (codes < 0).any():
                    return None
                encoded[name] = codes
        columns = []
        for scale, factors in self.plan["terms"]:
            block = np.full((n, 1), float(scale))
            for name, reduced in factors:  # the first factor varies fastest
                levels = self.plan["factors"][name]
                if levels is None:
                    part = encoded[name][:, None]
                else:
                    kept = np.arange(1 if reduced else 0, len(levels))
                    part = (encoded[name][:, None] == kept[None, :]).astype(float)
                block = (part[:, :, None] * block[:, None, :]).reshape(n, -1)
            columns.append(block)
        return np.concatenate(columns, axis=1) if columns else np.zeros((n, 0))


def _fast_plan(spec) -> dict | None:
    """Factors (levels, or None for numeric) and scoped terms of a spec the fast path can build;
    None when a factor is not a plain data column with treatment coding, or the column names
    would not be formulaic's."""
    try:
        from formulaic.utils.sentinels import UNSET

        factors, terms, names = {}, [], []
        for structure in spec.structure:
            for scoped in structure.scoped_terms:
                parts, labels = [], [""]
                for scoped_factor in scoped.factors:
                    factor = scoped_factor.factor
                    name = str(factor.expr)
                    if factor.factor.eval_method.value != "lookup" or name not in spec.encoder_state:
                        return None
                    kind, state = spec.encoder_state[name]
                    if kind.value == "numerical":
                        factors[name] = None
                        tags = [name]
                    elif kind.value == "categorical":
                        contrasts = state["contrasts"]
                        if type(contrasts.contrasts).__name__ != "TreatmentContrasts" or \
                                contrasts.contrasts.base is not UNSET:
                            return None
                        levels = list(state["categories"])
                        if list(contrasts.levels) != levels:
                            return None
                        factors[name] = levels
                        kept = levels[1:] if scoped_factor.reduced else levels
                        tags = [f"{name}[T.{lv}]" if scoped_factor.reduced else f"{name}[{lv}]" for lv in kept]
                    else:
                        return None
                    labels = [f"{label}:{t}" if label else t for t in tags for label in labels]
                    parts.append((name, bool(scoped_factor.reduced)))
                names.extend(labels if scoped.factors else ["Intercept"])
                terms.append((float(scoped.scale), parts))
        if names != list(spec.column_names):
            return None
        return {"factors": factors, "terms": terms}
    except (AttributeError, KeyError, TypeError, ValueError, ImportError):
        return None


@lru_cache(maxsize=256)
def _formula(formula: str) -> Formula:
    """The parsed formula (parsing is a pure function of the text)."""
    return Formula(formula)


def _codes(column: pd.Series, levels: list) -> np.ndarray:
    """Position of each value of ``column`` in ``levels`` (-1: not there), int64."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories.tolist()
        codes = column.cat.codes.to_numpy().astype(np.int64)
        if categories == list(levels):
            return codes
        mapping = np.append(pd.Index(levels).get_indexer(categories), -1)  # code -1 (missing) -> -1
        return mapping[codes]
    return pd.Index(levels).get_indexer(column).astype(np.int64)


def _plain_response(formula_obj, frame) -> str | None:
    """The response's column name when the left-hand side is one numeric column, else None."""
    terms = list(formula_obj.lhs)
    if len(terms) != 1 or len(terms[0].factors) != 1:
        return None
    factor = terms[0].factors[0]
    name = str(factor.expr)
    if (factor.eval_method.value != "lookup" or name not in frame or not pd.api.types.is_numeric_dtype(frame[name])
            or pd.api.types.is_bool_dtype(frame[name])):
        return None
    return name


def _used_levels(column: pd.Series) -> set:
    """The distinct values of a column (of a Categorical: its categories that occur)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        categories = column.cat.categories.tolist()
        return {categories[i] for i in np.unique(codes[codes >= 0])}
    return set(column.dropna().unique().tolist())


def _categorical_levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        used = _used_levels(series)
        return [c for c in series.cat.categories.tolist() if c in used]
    return sorted(series.dropna().unique(), key=str)


def _is_factor(column: pd.Series) -> bool:
    return (isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object
            or pd.api.types.is_string_dtype(column) or pd.api.types.is_bool_dtype(column))


def _variables(side, columns) -> set:
    """Data columns a formula side uses: formulaic's required variables, plus bare names that
    are data columns but also name a formulaic transform (``center``, ``scale``, ``C``, ``poly``),
    which formulaic leaves out of ``required_variables``."""
    names = {str(v) for v in side.required_variables}
    names.update(str(f.expr) for term in side for f in term.factors if str(f.expr) in columns)
    return names


def _prepare(data, formula, subject, visit, group, visit_levels):
    formula_obj = _formula(formula)
    lhs = sorted(_variables(formula_obj.lhs, data.columns))
    rhs = sorted(_variables(formula_obj.rhs, data.columns))
    needed = list(dict.fromkeys(lhs + rhs + [subject, visit] + ([group] if group else [])))
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise MMRMError(f"columns {missing} named in the model are not in the data")
    complete = np.ones(len(data), dtype=bool)
    for name in needed:
        complete &= data[name].notna().to_numpy()
    frame = data.loc[complete, needed] if not complete.all() else data[needed].copy()
    if frame.empty:
        raise MMRMError("no complete rows: every row misses the outcome or a covariate")
    factors, numerics = {}, {}
    for name in rhs:
        col = frame[name]
        if _is_factor(col):
            levels = _categorical_levels(col)  # the levels that occur, in category (else sorted) order
            # unused categories dropped (set_categories: pandas deprecates re-categorising a Categorical)
            if not isinstance(col.dtype, pd.CategoricalDtype):
                frame[name] = pd.Categorical(col, categories=levels)
            elif col.cat.categories.tolist() != levels:
                frame[name] = col.cat.set_categories(levels)
            factors[name] = levels
        else:
            numerics[name] = float(col.mean())
    if visit_levels is None:
        visit_levels = (list(data[visit].cat.categories) if isinstance(data[visit].dtype, pd.CategoricalDtype)
                        else sorted(frame[visit].unique(), key=str))
    used = _used_levels(frame[visit])
    visit_levels = [v for v in visit_levels if v in used]
    subject_code = pd.factorize(frame[subject], sort=True)[0]
    visit_code = _codes(frame[visit], visit_levels)  # -1: not a listed visit
    visit_any = pd.factorize(frame[visit])[0]
    key = subject_code.astype(np.int64) * (int(visit_any.max()) + 1) + visit_any
    order = np.argsort(key, kind="stable")
    repeated = order[1:][key[order][1:] == key[order][:-1]]  # rows equal to an earlier row in (subject, visit)
    if repeated.size:
        first = frame[[subject, visit]].iloc[int(repeated.min())]
        raise MMRMError(f"{int(repeated.size)} duplicated {subject} x {visit} rows (first: {first[subject]!r} at "
                        f"{first[visit]!r}); the model needs one row per subject and visit")
    return formula_obj, frame, factors, numerics, visit_levels, subject_code, visit_code
