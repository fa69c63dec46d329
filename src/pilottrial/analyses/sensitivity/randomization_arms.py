"""Sensitivity analysis 4 with three or more arms: re-randomizing the k arm labels.

The statistic of a comparison is its GLS t in one model of all arms; every re-randomization
permutes the arm labels of all randomized participants (see
:func:`~pilottrial.analyses.sensitivity.randomization_test`, Notes, three or more arms).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from pilottrial.analyses.sensitivity.randomization import (
    _ArmGLS,
    _null_model,
    _randomization_stream,
    _randomized,
    _Tally,
    draw_chunk,
)
from pilottrial.analyses.sensitivity.rows import (
    FAILURES,
    comparison_table,
    contrast_rows,
    failed_rows,
    no_follow_up,
    prepare_arms,
)
from pilottrial.models.frame import model_formula
from pilottrial.models.mmrm import fit_mmrm

__all__ = ["randomization_test_arms"]


class _ArmsGLS(_ArmGLS):
    r"""GLS t statistics of each comparison at each visit in the model of all arms, for many
    assignments of the k arm labels at once.

    As :class:`~pilottrial.analyses.sensitivity.randomization._ArmGLS` with the arm part of the
    design :math:`[A_1 \mid \dots \mid A_{k-1}]`, :math:`A_{j,iv} = 1(\text{arm}_i = j)\,
    1(\text{visit} = v)` (arm *j*'s effect at each visit, the reference arm 0). A participant is
    in one arm, so the arm block of :math:`X'V^{-1}X` is block diagonal,
    :math:`D = \mathrm{diag}_j(\sum_i a_{ij}Q_i)`, and with
    :math:`C = [\sum_i a_{i1}G_i' \mid \dots]`,
    :math:`M = D - C'S_{00}^{-1}C`, :math:`\hat\delta = M^{-1}(r - C'S_{00}^{-1}s_0)`,
    :math:`\mathrm{Var}(\hat\delta) = M^{-1}`. A comparison of arms *a* and *b* at visit *v*
    is :math:`\ell'\hat\delta` with :math:`\ell = e_{a,v} - e_{b,v}` (no term for arm 0).
    """

    def __init__(self, frame, participants, X0, sigma, n_arms: int, pairs):
        super().__init__(frame, participants, X0, sigma)
        self.n_arms = n_arms
        m, size = self.m, (n_arms - 1) * self.m
        self.L = np.zeros((len(pairs) * m, size))
        for c, (treatment, reference) in enumerate(pairs):
            for v in range(m):
                if treatment > 0:
                    self.L[c * m + v, (treatment - 1) * m + v] += 1.0
                if reference > 0:
                    self.L[c * m + v, (reference - 1) * m + v] -= 1.0

    def statistics(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(estimate, t), each (draws, comparisons x visits: comparison-major), for arm codes
        (draws, participants), 0 the reference arm; NaN where an assignment leaves a visit
        without an observed participant in some arm."""
        codes = np.atleast_2d(np.asarray(codes))
        d, m, p0, k = codes.shape[0], self.m, self.p0, self.n_arms
        size = (k - 1) * m
        valid = np.ones(d, dtype=bool)
        M, C, h = np.zeros((d, size, size)), np.zeros((d, p0, size)), np.zeros((d, size))
        for j in range(k):
            T = (codes == j).astype(float)
            valid &= np.all(T @ self.observed > 0, axis=1)
            if j == 0:
                continue
            block = slice((j - 1) * m, j * m)
            M[:, block, block] = (T @ self.Q).reshape(d, m, m)
            C[:, :, block] = (T @ self.G).reshape(d, p0, m)
            h[:, block] = T @ self.h
        M -= np.einsum("dpa,pq,dqb->dab", C, self.S00_inv, C)
        r = h - np.einsum("dpa,p->da", C, self.b0)
        M[~valid] = np.eye(size)
        try:
            Minv = np.linalg.inv(M)
        except np.linalg.LinAlgError:  # a rank-deficient draw: one at a time
            Minv = np.empty_like(M)
            for i in range(d):
                try:
                    Minv[i] = np.linalg.inv(M[i])
                except np.linalg.LinAlgError:
                    Minv[i], valid[i] = np.eye(size), False
        delta = np.einsum("dab,db->da", Minv, r)
        estimate = delta @ self.L.T
        se = np.sqrt(np.clip(np.einsum("ca,dab,cb->dc", self.L, Minv, self.L), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = estimate / se
        estimate[~valid], t[~valid] = np.nan, np.nan
        return estimate, t


def _all_assignments(sizes):
    """Every assignment of ``sizes[j]`` participants to arm *j* (arm codes, one array each)."""
    codes = np.zeros(sum(sizes), dtype=np.int64)

    def fill(free, j):
        if j == len(sizes) - 1:
            codes[free] = j
            yield codes.copy()
            return
        for chosen in itertools.combinations(free, sizes[j]):
            codes[list(chosen)] = j
            taken = set(chosen)
            yield from fill([i for i in free if i not in taken], j + 1)

    yield from fill(list(range(len(codes))), 0)


def _randomization_p_arms(frame, participants, outcome, arms, comparisons, *, draws, seed, covariance="us",
                          fallback=None, chunk_done=None) -> dict:
    """The k-arm randomization test of one outcome: observed GLS t and p by (comparison name,
    visit), the null model's structure and formula, undefined draws, and the number of
    assignments when all were enumerated."""
    randomized = _randomized(participants)
    labels = randomized["participant"].to_numpy()
    index = {str(a): j for j, a in enumerate(arms)}
    arm_of = randomized["arm"].astype(str)
    if not arm_of.isin(list(index)).all():
        raise ValueError(f"participants are randomized to arms {sorted(set(arm_of) - set(index))} outside {arms}")
    observed = arm_of.map(index).to_numpy(dtype=np.int64)
    null_fit, formula = _null_model(frame, covariance, fallback)
    pairs = [(index[str(c.treatment)], index[str(c.reference)]) for c in comparisons]
    gls = _ArmsGLS(frame, labels, null_fit.design(frame), null_fit.sigmas[0], len(arms), pairs)
    t_obs = gls.statistics(observed[None, :])[1][0]
    count = _Tally(gls, t_obs, chunk_done)

    sizes = np.bincount(observed, minlength=len(arms)).tolist()
    distinct = math.factorial(len(observed)) // math.prod(math.factorial(s) for s in sizes)
    if distinct <= draws:  # all assignments once each: the exact test
        everyone = _all_assignments(sizes)
        while chunk := list(itertools.islice(everyone, draw_chunk(len(observed)))):
            count(np.asarray(chunk))
        p_value = count.extreme / distinct
    else:
        rng = _randomization_stream(int(seed), outcome)
        for start in range(0, draws, draw_chunk(len(observed))):
            size = min(draw_chunk(len(observed)), draws - start)
            count(rng.permuted(np.broadcast_to(observed, (size, observed.size)), axis=1))
        p_value = (1.0 + count.extreme) / (1.0 + draws)
    visits = [str(v) for v in frame["visit"].cat.categories]
    keys = [(c.name, v) for c in comparisons for v in visits]
    return {"t_observed": dict(zip(keys, t_obs.tolist())), "p_value": dict(zip(keys, p_value.tolist())),
            "structure": null_fit.structure, "formula": formula, "undefined": count.undefined,
            "exact": distinct if distinct <= draws else None}


def randomization_test_arms(frame: pd.DataFrame, arms, comparisons, *, participants=None, visits=None,
                            alpha: float = 0.05, draws: int = 10_000, seed: int = 0, covariance: str = "us",
                            fallback=None, df_method: str = "satterthwaite", formula: str | None = None,
                            outcome: str | None = None, progress=None) -> pd.DataFrame:
    """:func:`~pilottrial.analyses.sensitivity.randomization_test` of three or more arms (its
    ``treatment`` a list): the rows of each comparison, with a last column ``treatment``."""
    frame, visits, outcome = prepare_arms(frame, arms, visits, outcome)
    participants = frame if participants is None else participants
    name = "randomization_test"
    done = 0

    def chunk_done(size):
        nonlocal done
        done += size
        if progress is not None:
            progress(done)

    def failed(reason):
        return comparison_table([(c, failed_rows(outcome, name, "mmrm", visits, reason)) for c in comparisons])

    if no_follow_up(frame, outcome):
        return failed(no_follow_up(frame, outcome))
    try:
        mmrm = fit_mmrm(frame, formula or model_formula(frame), subject="participant", visit="visit",
                        covariance=covariance, fallback=fallback, method="reml", df_method=df_method)
        estimates = {c.name: contrast_rows(mmrm, outcome, name, "mmrm", c.reference, c.treatment, visits, alpha, "")
                     for c in comparisons}
    except FAILURES as exc:
        return failed(f"the MMRM does not fit ({exc})")
    try:
        test = _randomization_p_arms(frame, participants, outcome, arms, comparisons, draws=int(draws),
                                     seed=int(seed), covariance=covariance, fallback=fallback,
                                     chunk_done=chunk_done)
    except FAILURES as exc:
        return failed(f"the randomization test cannot run: {exc}")
    method = (f"exact re-randomization p (all {test['exact']} assignments of the {len(arms)} arm labels with the "
              f"observed allocation: fewer than the {draws} draws asked for)" if test["exact"] else
              f"Monte Carlo re-randomization p ({draws} permutations of the {len(arms)} arm labels, seed {seed})")
    base_note = (f"{method} of the comparison's GLS t in the model of all arms, with the {test['structure']} "
                 f"covariance of the null model {test['formula']}; estimate and CI from the MMRM "
                 f"({mmrm.structure})")
    if test["undefined"]:
        base_note += f"; {test['undefined']} draws with a visit lacking an arm counted as extreme"
    blocks = []
    for c in comparisons:
        rows = []
        for row in estimates[c.name]:
            row["note"] = row["note"] or base_note
            key = (c.name, row["visit"])
            if key in test["p_value"]:
                t_obs = test["t_observed"][key]
                if np.isfinite(t_obs):
                    row["p_value"] = test["p_value"][key]
                    row["note"] = f"{base_note}; observed t = {t_obs:.3f}"
                else:
                    row["p_value"] = np.nan
                    row["note"] = f"not estimable: the observed GLS statistic is undefined at {row['visit']}"
            rows.append(row)
        blocks.append((c, rows))
    return comparison_table(blocks)
