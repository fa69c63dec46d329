"""Sensitivity analysis 4: Monte Carlo re-randomization test of the MMRM treatment contrast."""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pandas as pd

from pilottrial.analyses.sensitivity.rows import (
    FAILURES,
    arm_comparisons,
    contrast_rows,
    failed_rows,
    no_follow_up,
    prepare,
    sensitivity_table,
)
from pilottrial.models.frame import model_formula
from pilottrial.models.mmrm import fit_mmrm

__all__ = ["randomization_test", "NULL_FORMULA"]

#: Mean model under the null of no arm effect (the arm labels do not enter it).
NULL_FORMULA = "change ~ baseline + visit"
_DRAW_CHUNK = 2000
#: At most this many assignment values (draws x participants) per chunk: a trial of thousands
#: does not hold 2,000 full assignments at once. The draws come from one stream either way, so
#: the chunk size changes neither the permutations nor the p-values.
_CHUNK_VALUES = 4_000_000


def draw_chunk(participants: int) -> int:
    """Draws per chunk for a trial of ``participants``."""
    return max(1, min(_DRAW_CHUNK, _CHUNK_VALUES // max(participants, 1)))
class _ArmGLS:
    r"""GLS t statistics of the arm effect at each visit for many assignments at once.

    The design of ``change ~ baseline + arm * visit`` spans the same space as
    :math:`[X_0 \mid A]`, :math:`X_0` the design of ``change ~ baseline + visit`` and
    :math:`A_{ij,v} = a_i\,1(\text{visit}_{ij} = v)` (arm effect per visit, cell coding), so
    the arm effect at visit *v* is the coefficient :math:`\delta_v`. With the visit covariance
    :math:`\Sigma` fixed and :math:`Q_i` the inverse of subject *i*'s block of
    :math:`\Sigma` embedded in an m x m zero matrix (computed once per missingness pattern),

    .. math::
        X'V^{-1}X = \begin{pmatrix} S_{00} & \sum_i a_iG_i \\ \cdot & \sum_i a_iQ_i\end{pmatrix},
        \quad X'V^{-1}y = \begin{pmatrix} s_0 \\ \sum_i a_ih_i\end{pmatrix},

    :math:`G_i = X_{0i}'Q_i`, :math:`h_i = Q_iy_i`; by the Schur complement
    :math:`M = \sum a_iQ_i - (\sum a_iG_i)'S_{00}^{-1}(\sum a_iG_i)`,
    :math:`\hat\delta = M^{-1}(\sum a_ih_i - (\sum a_iG_i)'S_{00}^{-1}s_0)`,
    :math:`\mathrm{Var}(\hat\delta) = M^{-1}`: only sums over subjects weighted by the 0/1
    assignment change between draws, one matrix product each for all draws.
    """

    def __init__(self, frame: pd.DataFrame, participants: np.ndarray, X0: np.ndarray, sigma: np.ndarray):
        m = sigma.shape[0]
        n, p0 = len(participants), X0.shape[1]
        subject = pd.Categorical(frame["participant"], categories=participants).codes
        if (subject < 0).any():
            raise ValueError("the model frame has participants that are not in the analysis table")
        visit = np.asarray(frame["visit"].cat.codes, dtype=np.int64)
        Xp = np.zeros((n, m, p0))
        yp = np.zeros((n, m))
        observed = np.zeros((n, m), dtype=bool)
        Xp[subject, visit] = X0
        yp[subject, visit] = frame["change"].to_numpy(float)
        observed[subject, visit] = True
        Q = np.zeros((n, m, m))
        masks, inverse = np.unique(observed, axis=0, return_inverse=True)
        for k, mask in enumerate(masks):
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue  # participants with no post-baseline change carry no information
            linv = np.linalg.inv(np.linalg.cholesky(sigma[np.ix_(idx, idx)]))  # whiten once per pattern
            block = np.zeros((m, m))
            block[np.ix_(idx, idx)] = linv.T @ linv
            Q[inverse.ravel() == k] = block
        G = np.einsum("nvp,nvw->npw", Xp, Q)  # X0_i' Q_i
        self.m, self.p0 = m, p0
        self.Q = Q.reshape(n, m * m)
        self.G = G.reshape(n, p0 * m)
        self.h = np.einsum("nvw,nw->nv", Q, yp)
        self.observed = observed.astype(float)
        S00 = np.einsum("npw,nwq->pq", G, Xp)
        s0 = np.einsum("npw,nw->p", G, yp)
        self.S00_inv = np.linalg.inv(S00)
        self.b0 = self.S00_inv @ s0

    def statistics(self, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(delta, t), each (draws, m), for 0/1 assignments (draws, participants); NaN where an
        assignment leaves a visit without an observed participant in one arm."""
        T = np.atleast_2d(np.asarray(assignment, dtype=float))
        d, m, p0 = T.shape[0], self.m, self.p0
        treated = T @ self.observed
        control = (1.0 - T) @ self.observed
        valid = np.all((treated > 0) & (control > 0), axis=1)
        SAA = (T @ self.Q).reshape(d, m, m)
        S0A = (T @ self.G).reshape(d, p0, m)
        M = SAA - np.einsum("dpm,pq,dqk->dmk", S0A, self.S00_inv, S0A)
        r = T @ self.h - np.einsum("dpm,p->dm", S0A, self.b0)
        M[~valid] = np.eye(m)
        try:
            Minv = np.linalg.inv(M)
        except np.linalg.LinAlgError:  # a rank-deficient draw: fall back to one at a time
            Minv = np.empty_like(M)
            for i in range(d):
                try:
                    Minv[i] = np.linalg.inv(M[i])
                except np.linalg.LinAlgError:
                    Minv[i], valid[i] = np.eye(m), False
        delta = np.einsum("dmk,dk->dm", Minv, r)
        se = np.sqrt(np.clip(np.diagonal(Minv, axis1=1, axis2=2), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = delta / se
        delta[~valid], t[~valid] = np.nan, np.nan
        return delta, t


def _randomization_stream(seed: int, outcome: str) -> np.random.Generator:
    """The randomization test's own child of ``SeedSequence(seed)``: spawn key (purpose, outcome)
    as CRC-32 of their names, so other analyses' streams and the outcome order do not matter."""
    key = (zlib.crc32(b"pilottrial.sensitivity.randomization_test"), zlib.crc32(outcome.encode("utf-8")))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _randomized(participants: pd.DataFrame) -> pd.DataFrame:
    """One row per randomized participant (``participant, arm``), sorted by label."""
    return (participants[["participant", "arm"]].drop_duplicates("participant")
            .sort_values("participant", key=lambda s: s.astype(str)))


def _null_model(frame: pd.DataFrame, covariance, fallback):
    """The MMRM without treatment (``change ~ baseline + visit``; one visit: ``change ~ baseline``) whose
    covariance the re-randomized GLS statistics use, and its formula; ValueError when it does not fit."""
    formula = NULL_FORMULA if len(frame["visit"].cat.categories) > 1 else "change ~ baseline"
    try:
        fit = fit_mmrm(frame, formula, subject="participant", visit="visit", covariance=covariance,
                       fallback=fallback, method="reml", df_method="residual")
    except FAILURES as exc:
        raise ValueError(f"the MMRM under the null ({formula}) does not fit ({exc})") from None
    return fit, formula


class _Tally:
    """Counts, per statistic, the re-randomizations at least as extreme as the observed one
    (``|t*| >= |t_obs|``, ties up to rounding included); a draw whose statistic is undefined
    counts as extreme and is counted in ``undefined``."""

    def __init__(self, gls, t_obs: np.ndarray, chunk_done=None):
        self.gls, self.t_obs, self.chunk_done = gls, t_obs, chunk_done
        self.extreme, self.undefined = np.zeros(np.size(t_obs)), 0

    def __call__(self, assignment) -> None:
        t_star = self.gls.statistics(assignment)[1]
        bad = ~np.isfinite(t_star)
        self.undefined += int(bad.any(axis=1).sum())
        with np.errstate(invalid="ignore"):
            self.extreme += np.sum(bad | (np.abs(t_star) >= np.abs(self.t_obs) * (1 - 1e-10)), axis=0)
        if self.chunk_done is not None:
            self.chunk_done(len(assignment))


def _randomization_p(frame: pd.DataFrame, participants: pd.DataFrame, outcome: str, treatment: str, *,
                     draws: int, seed: int, covariance: str = "us", fallback=None, chunk_done=None) -> dict:
    """The randomization test of one outcome (see :func:`randomization_test`): observed GLS t
    and Monte Carlo p by visit label, the null model's structure and formula, and the number of
    draws whose statistic was undefined."""
    randomized = _randomized(participants)
    labels = randomized["participant"].to_numpy()
    observed = (randomized["arm"].astype(str).to_numpy() == str(treatment)).astype(float)
    null_fit, formula = _null_model(frame, covariance, fallback)
    gls = _ArmGLS(frame, labels, null_fit.design(frame), null_fit.sigmas[0])
    t_obs = gls.statistics(observed[None, :])[1][0]
    count = _Tally(gls, t_obs, chunk_done)

    n_treated = int(observed.sum())
    distinct = math.comb(observed.size, n_treated)
    if distinct <= draws:  # no more assignments than draws: all of them, once each (the exact test)
        treated_sets = itertools.combinations(range(observed.size), n_treated)
        while chunk := list(itertools.islice(treated_sets, draw_chunk(observed.size))):
            assignment = np.zeros((len(chunk), observed.size))
            assignment[np.repeat(np.arange(len(chunk)), n_treated), np.asarray(chunk).ravel()] = 1.0
            count(assignment)
        p_value = count.extreme / distinct  # the observed assignment is one of them
    else:
        rng = _randomization_stream(int(seed), outcome)
        for start in range(0, draws, draw_chunk(observed.size)):
            size = min(draw_chunk(observed.size), draws - start)
            # each row a permutation of the observed labels: the observed allocation ratio
            count(rng.permuted(np.broadcast_to(observed, (size, observed.size)), axis=1))
        p_value = (1.0 + count.extreme) / (1.0 + draws)
    visits = [str(v) for v in frame["visit"].cat.categories]
    return {"t_observed": dict(zip(visits, t_obs.tolist())), "p_value": dict(zip(visits, p_value.tolist())),
            "structure": null_fit.structure, "formula": formula, "undefined": count.undefined,
            "exact": distinct if distinct <= draws else None}


def randomization_test(frame: pd.DataFrame, reference: str, treatment, *, participants=None, visits=None,
                       alpha: float = 0.05, draws: int = 10_000, seed: int = 0, covariance: str = "us",
                       fallback=None, df_method: str = "satterthwaite", formula: str | None = None,
                       outcome: str | None = None, progress=None, comparisons=None) -> pd.DataFrame:
    r"""Monte Carlo re-randomization test of the MMRM treatment contrast at each visit.

    Parameters
    ----------
    frame, reference, treatment, visits, alpha, outcome
        As :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`. The outcome label
        also names the random stream.
    participants : pandas.DataFrame, optional
        ``participant, arm`` of every randomized participant (those without post-baseline data
        included: they are re-randomized too); default the participants of ``frame``.
    draws : int, default 10000
        Re-randomizations :math:`B`.
    seed : int, default 0
        Root of the random stream (the pipeline passes ``analysis.seed``).
    covariance, fallback : str, list of str
        Residual covariance structure of the MMRM and of the null model, and the structures
        tried when it does not converge (:func:`pilottrial.models.mmrm.fit_mmrm`).
    df_method : str, default "satterthwaite"
        Degrees of freedom of the MMRM interval.
    formula : str, optional
        Mean model of the MMRM whose estimate and interval are reported; default
        ``change ~ baseline + arm * visit``.
    progress : callable, optional
        Called with the number of draws done after each chunk of draws.
    comparisons : sequence of Comparison, optional
        Three or more arms (``treatment`` a list): as
        :func:`~pilottrial.analyses.sensitivity.ancova_complete_case`; see Notes.

    Returns
    -------
    pandas.DataFrame
        :data:`~pilottrial.analyses.sensitivity.SENSITIVITY_COLUMNS`, one row per visit:
        ``estimate``, ``std_error``, ``df``, ``ci_lower``, ``ci_upper`` of the MMRM,
        ``p_value`` the randomization p; ``model`` is ``"mmrm"``, ``analysis``
        ``"randomization_test"``; ``note`` names the method, draws, seed and the observed GLS t.
        Three or more arms: the rows of each comparison in turn, with a last column
        ``treatment``.

    Notes
    -----
    Statistic: the GLS t statistic of the arm effect at visit *v* in
    ``change ~ baseline + arm * visit``, with the visit covariance :math:`\hat\Sigma` estimated
    **once**, by REML under the null model ``change ~ baseline + visit`` (structure
    ``covariance``, with ``fallback``). The null model does not involve the arm labels, so
    :math:`\hat\Sigma` is the same for every re-randomization and the statistic is a fixed
    function of (data, assignment).

    Re-randomization: ``draws`` permutations of the observed arm labels over all randomized
    participants (the observed allocation: same numbers per arm), drawn from a child of
    ``SeedSequence(seed)`` whose spawn key is the CRC-32 of the test's name and of the outcome
    label; the same draws serve every visit. Two-sided Monte Carlo p-value (Phipson & Smyth 2010)

    .. math:: p = \frac{1 + \#\{b : |t^*_b| \ge |t_{obs}|\}}{1 + B}.

    When the trial has no more distinct assignments :math:`K = \binom{n}{n_T}` than ``draws``
    (e.g. 20 with 3 participants per arm), every assignment is enumerated once instead and the
    p-value is the exact :math:`\#\{k : |t^*_k| \ge |t_{obs}|\} / K` (the observed assignment
    among them); ``note`` says so. A MMRM that does not fit, under the null or not, gives rows
    of NaN with the reason.

    A draw that leaves a visit without an observed participant in one arm counts as extreme
    (conservative; reported in ``note`` if any). Under the sharp null (treatment changes no
    participant's outcomes, missingness included) the test is exact whatever the distribution
    of the data and the truth of the covariance model.

    **Three or more arms.** One model of all arms, ``change ~ baseline + arm * visit`` with
    :math:`k - 1` arm effects per visit, :math:`\hat\Sigma` again from the null model; the
    statistic of a comparison at visit *v* is the GLS t of its contrast (the difference of
    its two arms' effects). Each re-randomization permutes the k arm labels over **all**
    randomized participants (the observed numbers per arm; the same draws for every
    comparison and visit), and each comparison's p counts the draws whose statistic of that
    comparison is as extreme. This choice keeps the randomization of the trial as it was
    (one allocation of all participants to k arms) and uses the same covariance and the same
    participants as the models of all arms; the test is exact under the sharp null that no arm
    changes anyone's outcomes (the global null). It is not a test of one comparison alone:
    when another arm has an effect, the permutations spread that effect over all arms. A
    pairwise alternative (re-randomizing only the two arms' participants) would test each
    comparison's own sharp null but not with the model of all arms. Exact enumeration when
    the multinomial number of assignments :math:`n! / \prod_j n_j!` is at most ``draws``.

    References
    ----------
    Edgington ES, Onghena P (2007). Randomization Tests, 4th ed. Chapman & Hall/CRC.
    Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials, 2nd ed. Wiley, ch. 6.
    Phipson B, Smyth GK (2010). Permutation p-values should never be zero. Stat Appl Genet
    Mol Biol 9:39.

    Examples
    --------
    >>> from pilottrial.analyses.common import example_frame
    >>> frame = example_frame()
    >>> table = randomization_test(frame, "placebo", "drug", draws=1000, seed=1, outcome="HAM-D")
    >>> [(row.visit, round(row.estimate, 2), round(row.p_value, 3)) for row in table.itertuples()]
    [('week4', -4.86, 0.206), ('week8', -8.06, 0.024)]
    >>> table["note"].iloc[0][:47]  # 5 per arm: 252 assignments, fewer than the draws
    'exact re-randomization p (all 252 assignments o'
    >>> table = randomization_test(frame, "placebo", "drug", draws=200, seed=1, outcome="HAM-D")
    >>> [(row.visit, round(row.p_value, 3)) for row in table.itertuples()]
    [('week4', 0.184), ('week8', 0.015)]
    """
    arms, comparisons = arm_comparisons(reference, treatment, comparisons)
    if arms is not None:
        from pilottrial.analyses.sensitivity.randomization_arms import randomization_test_arms

        return randomization_test_arms(frame, arms, comparisons, participants=participants, visits=visits,
                                       alpha=alpha, draws=draws, seed=seed, covariance=covariance,
                                       fallback=fallback, df_method=df_method, formula=formula, outcome=outcome,
                                       progress=progress)
    frame, visits, outcome = prepare(frame, reference, treatment, visits, outcome)
    participants = frame if participants is None else participants
    draws, seed = int(draws), int(seed)
    done = 0

    def chunk_done(size):
        nonlocal done
        done += size
        if progress is not None:
            progress(done)

    if no_follow_up(frame, outcome):
        return sensitivity_table(failed_rows(outcome, "randomization_test", "mmrm", visits,
                                             no_follow_up(frame, outcome)))
    try:
        mmrm = fit_mmrm(frame, formula or model_formula(frame), subject="participant", visit="visit",
                        covariance=covariance, fallback=fallback, method="reml", df_method=df_method)
        estimates = contrast_rows(mmrm, outcome, "randomization_test", "mmrm", reference, treatment, visits,
                                  alpha, "")
    except FAILURES as exc:
        return sensitivity_table(failed_rows(outcome, "randomization_test", "mmrm", visits,
                                             f"the MMRM does not fit ({exc})"))
    try:
        test = _randomization_p(frame, participants, outcome, treatment, draws=draws, seed=seed,
                                covariance=covariance, fallback=fallback, chunk_done=chunk_done)
    except FAILURES as exc:
        return sensitivity_table(failed_rows(outcome, "randomization_test", "mmrm", visits,
                                             f"the randomization test cannot run: {exc}"))
    method = (f"exact re-randomization p (all {test['exact']} assignments of the arm labels with the observed "
              f"allocation: fewer than the {draws} draws asked for)" if test["exact"] else
              f"Monte Carlo re-randomization p ({draws} permutations of the arm labels, seed {seed})")
    base_note = (f"{method} of the GLS t with the {test['structure']} covariance of the null model "
                 f"{test['formula']}; estimate and CI from the MMRM ({mmrm.structure})")
    if test["undefined"]:
        base_note += f"; {test['undefined']} draws with a visit lacking one arm counted as extreme"
    rows = []
    for row in estimates:
        row["note"] = row["note"] or base_note
        if row["visit"] in test["p_value"]:
            t_obs = test["t_observed"][row["visit"]]
            if np.isfinite(t_obs):
                row["p_value"] = test["p_value"][row["visit"]]
                row["note"] = f"{base_note}; observed t = {t_obs:.3f}"
            else:
                row["p_value"] = np.nan
                row["note"] = f"not estimable: the observed GLS statistic is undefined at {row['visit']}"
        rows.append(row)
    return sensitivity_table(rows)
