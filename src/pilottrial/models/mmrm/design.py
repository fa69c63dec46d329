"""The data of one MMRM specification: model frame, fixed-effect design and missingness patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from formulaic import Formula

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
            aliased = [terms[j] for j in range(X.shape[1])
                       if j >= r.shape[0] or abs(r[j, j]) < 1e-8 * abs(r).max()]
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
        self.y, self.X = y, X
        self.subject_code = pd.factorize(frame[subject], sort=True)[0]
        self.visit_code = np.asarray(visit_code, dtype=np.int64)
        self.group_code = group_code
        self.patterns = PatternData(y, X, self.subject_code, self.visit_code, group_code, len(visit_levels),
                                    len(groups))
        ols_resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        self.start_covariances = empirical_covariances(self.subject_code, self.visit_code, ols_resid, group_code,
                                                        len(visit_levels), len(groups))


def _categorical_levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [c for c in series.cat.categories if c in set(series.dropna())]
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
    formula_obj = Formula(formula)
    lhs = sorted(_variables(formula_obj.lhs, data.columns))
    rhs = sorted(_variables(formula_obj.rhs, data.columns))
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
        if _is_factor(col):
            levels = (_categorical_levels(data[name]) if isinstance(data[name].dtype, pd.CategoricalDtype)
                      else _categorical_levels(col))
            levels = [lv for lv in levels if lv in set(col)]
            # unused categories dropped (set_categories: pandas deprecates re-categorising a Categorical)
            frame[name] = (col.cat.set_categories(levels) if isinstance(col.dtype, pd.CategoricalDtype)
                           else pd.Categorical(col, categories=levels))
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
