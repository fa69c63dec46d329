"""Covariates whose names are also formulaic transforms (center, scale, C, poly) are data columns."""

import numpy as np
import pandas as pd
import pytest

from pilottrial.models.mmrm import fit_mmrm


@pytest.mark.parametrize("name", ["center", "scale", "C", "poly"])
def test_a_covariate_named_like_a_formula_transform_is_the_data_column(name):
    rng = np.random.default_rng(7)
    n = 40
    frame = pd.DataFrame({
        "participant": np.repeat([f"P{i:02d}" for i in range(n)], 3),
        "visit": pd.Categorical(np.tile(["v1", "v2", "v3"], n), categories=["v1", "v2", "v3"]),
        "arm": pd.Categorical(np.repeat(rng.permutation(["a", "b"] * (n // 2)), 3), categories=["a", "b"]),
        name: np.repeat(rng.choice(["north", "south"], n), 3),
    })
    frame["y"] = rng.normal(size=len(frame)) + (frame[name] == "south") * 2.0
    fit = fit_mmrm(frame, f"y ~ {name} + arm * visit", subject="participant", visit="visit", covariance="cs")
    assert f"{name}[T.south]" in fit.terms
    estimate = fit.coefficients.set_index("term").loc[f"{name}[T.south]", "estimate"]
    assert abs(estimate - 2.0) < 0.6
