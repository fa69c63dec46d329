"""Synthetic trials of any shape for the report tests: a config, the analysis table, the raw data
and every result table the report reads, without running the pipeline.

    from report_trials import make_trial
    trial = make_trial(n_per_arm=500, visits=12, outcomes=3, arms=("0", "1"))
    html = render_report(trial.config, trial.tables, figures, provenance)

The numbers are random (seeded) but have the columns and the shape of the pipeline's tables
(``results/<trial>/tables/*.csv``), so a report or a figure can be built for a trial with 10 or
5,000 participants, 1 or 12 post-baseline visits, 1 to 6 outcomes and any labels. Options mark
rows not estimable (NaN numbers, ``note`` "not estimable: ..."), leave tables out, or leave the
optional config keys (MCID, remission cut-off, key visits, phase) out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pilottrial.config.load import validate_config
from pilottrial.report.figures.baseline_table import table_one

__all__ = ["SyntheticTrial", "make_trial", "NOT_ESTIMABLE"]

NOT_ESTIMABLE = "not estimable: the model is singular for these data"
_NOTE_TABLES = ("contrasts", "multiplicity", "effect_sizes", "posterior", "sensitivity", "multiple_imputation",
                "tipping_point")


@dataclass
class SyntheticTrial:
    config: dict
    analysis: pd.DataFrame
    raw: pd.DataFrame
    tables: dict = field(default_factory=dict)


def _visit_labels(visits: int | list, numeric: bool, baseline: bool) -> list[str]:
    if isinstance(visits, list):
        return [str(v) for v in visits]
    if numeric:
        days = [1, 8, 15, 22, 29, 36, 43, 57, 71, 85, 113, 141, 169]
        return [str(d) for d in days[: visits + (1 if baseline else 0)]]
    post = [f"week {i}" for i in range(1, visits + 1)]
    return (["baseline"] if baseline else []) + post


def make_trial(n_per_arm: int = 15, visits: int | list = 3, outcomes: int | list = 2, *,
               arms: tuple = ("placebo", "drug"), numeric_visits: bool = False, key: list | None = None,
               phase: str | None = "pilot", mcid: bool = True, remission: bool = True, mechanism: int = 0,
               baseline_column: bool = False, response: str = "change", not_estimable: tuple = (),
               drop_tables: tuple = (), covariates: bool = True, seed: int = 1, dropout: float = 0.15,
               layout_wide: bool = False) -> SyntheticTrial:
    """A synthetic two-arm trial with its analysis table, raw data and result tables.

    Parameters
    ----------
    n_per_arm : participants per arm.
    visits : number of post-baseline visits, or the list of all visit labels (baseline first).
    outcomes : number of outcomes, or their names (the first is primary).
    arms : (reference, treatment) labels.
    numeric_visits : visits labelled as study days ("1", "8", "15", ...).
    key : the key visits (default: the config leaves visits.key out).
    phase : ``trial.phase`` (None leaves it out).
    mcid, remission : give each outcome an MCID / remission cut-off.
    mechanism : how many of the outcomes (the last ones) are mechanism outcomes.
    baseline_column : the baseline is a column of the post-baseline rows (no baseline visit).
    response : ``change`` or ``raw``.
    not_estimable : names of tables whose rows of the last outcome are marked not estimable
        (``"contrasts"`` also marks the primary outcome at its last visit), ``"all"`` for every
        table that has estimates.
    drop_tables : tables left out (as when a step produced none).
    layout_wide : the raw data in the wide layout (a column per outcome x visit).
    """
    rng = np.random.default_rng(seed)
    reference, treatment = (str(a) for a in arms)
    baseline = not baseline_column and response != "raw"
    order = _visit_labels(visits, numeric_visits, baseline)
    post = order[1:] if baseline else order
    names = list(outcomes) if isinstance(outcomes, list) else [f"Outcome {i + 1}" for i in range(outcomes)]
    specs = []
    for i, name in enumerate(names):
        spec = {"name": name, "column": f"y{i + 1}", "range": [0, 80], "better": "lower"}
        if i == 0:
            spec["primary"] = True
        if mcid:
            spec["mcid"] = 5
        if remission and i < len(names) - mechanism:
            spec["remission_below"] = 20
        if i >= len(names) - mechanism and i > 0:
            spec["role"] = "mechanism"
        if baseline_column:
            spec["baseline_column"] = f"base{i + 1}"
        if layout_wide:
            spec.pop("column")
            spec["columns"] = {v: f"y{i + 1}_{j}" for j, v in enumerate(order)}
        specs.append(spec)
    config = {
        "trial": {"name": "synthetic", "title": "A synthetic trial", "design": "parallel"},
        "data": {"path": "synthetic.csv", "layout": "wide" if layout_wide else "long"},
        "columns": {"participant": "participant", "arm": "arm"} | ({} if layout_wide else {"visit": "visit"}),
        "arms": {"reference": reference, "treatment": treatment},
        "visits": {"order": order} | ({"baseline": order[0]} if baseline else {}),
        "outcomes": specs,
        "analysis": {"response": response} | ({"covariates": ["age"]} if covariates else {}),
        "power": {"enabled": False},
    }
    if phase is not None:
        config["trial"]["phase"] = phase
    if key is not None:
        config["visits"]["key"] = [str(v) for v in key]
    config = validate_config(config)

    n = 2 * n_per_arm
    width = len(str(n))
    people = pd.DataFrame({"participant": [f"{i + 1:0{width}d}" for i in range(n)],
                           "arm": [reference] * n_per_arm + [treatment] * n_per_arm,
                           "age": rng.integers(18, 70, n), "sex": rng.choice(["F", "M"], n)})
    last = np.where(rng.random(n) < dropout, rng.integers(1, max(len(order), 2), n), len(order))
    rows = []
    for name in names:
        base = rng.normal(40, 8, n)
        for v_i, visit in enumerate(order):
            drift = -2.0 * v_i - 3.0 * v_i / max(len(order) - 1, 1) * (people["arm"] == treatment).to_numpy()
            score = np.clip(np.round(base + drift + rng.normal(0, 5, n)), 0, 80) if v_i else np.round(base)
            score = np.where(v_i < last, score, np.nan)
            rows.append(pd.DataFrame({"participant": people["participant"], "arm": people["arm"],
                                      "visit": visit, "outcome": name, "baseline": np.round(base), "score": score}))
    analysis = pd.concat(rows, ignore_index=True)
    analysis["age"] = analysis["participant"].map(people.set_index("participant")["age"])
    if baseline:
        analysis["change"] = np.where(analysis["visit"] == order[0], np.nan, analysis["score"] - analysis["baseline"])
    else:
        analysis["change"] = analysis["score"] - analysis["baseline"]
    raw = _raw_frame(analysis, people, specs, order, layout_wide, baseline_column)
    trial = SyntheticTrial(config, analysis, raw)
    trial.tables = _tables(trial, rng, post, names, specs, not_estimable)
    for name in drop_tables:
        trial.tables.pop(name, None)
    return trial


def _raw_frame(analysis, people, specs, order, wide, baseline_column) -> pd.DataFrame:
    scores = analysis.pivot_table(index=["participant", "visit"], columns="outcome", values="score",
                                  aggfunc="first", dropna=False).reset_index()
    long = people.merge(scores, on="participant")
    long = long.rename(columns={s["name"]: s.get("column", f"y{i + 1}") for i, s in enumerate(specs)})
    if baseline_column:
        base = analysis.groupby(["participant", "outcome"])["baseline"].first().unstack()
        for i, s in enumerate(specs):
            long[f"base{i + 1}"] = long["participant"].map(base[s["name"]])
    if not wide:
        long["visit"] = pd.Categorical(long["visit"], categories=order)
        return long.sort_values(["participant", "visit"]).assign(visit=lambda f: f["visit"].astype(str))
    out = people.copy()
    for i, s in enumerate(specs):
        for visit, column in s["columns"].items():
            sel = long.loc[long["visit"] == visit].set_index("participant")[f"y{i + 1}"]
            out[column] = out["participant"].map(sel)
    return out


def _contrast_rows(rng, outcomes, visits, model, extra=None):
    rows = []
    for name in outcomes:
        for visit in visits:
            est = float(rng.normal(-3, 3))
            se = float(abs(rng.normal(2, 0.3)))
            rows.append({"outcome": name, "model": model, "visit": visit, "estimate": est, "std_error": se,
                         "df": 40.0, "ci_lower": est - 2 * se, "ci_upper": est + 2 * se,
                         "p_value": float(rng.uniform(0, 1))} | (extra or {}))
    return pd.DataFrame(rows)


def _mark(table: pd.DataFrame, outcome: str, columns, visit: str | None = None) -> pd.DataFrame:
    table = table.copy()
    if "note" not in table:
        table["note"] = ""
    mask = table["outcome"].astype(str) == outcome
    if visit is not None:
        mask &= table["visit"].astype(str) == visit
    for column in columns:
        if column in table:
            table.loc[mask, column] = np.nan
    table.loc[mask, "note"] = NOT_ESTIMABLE
    return table


def _tables(trial: SyntheticTrial, rng, post, names, specs, not_estimable) -> dict:
    config, analysis = trial.config, trial.analysis
    reference, treatment = config["arms"]["reference"], config["arms"]["treatment"]
    arms = [reference, treatment]
    key = config["visits"]["key"]
    efficacy = [s["name"] for s in specs if s.get("role", "efficacy") != "mechanism"]
    t = {}
    t["contrasts"] = pd.concat([_contrast_rows(rng, names, post, "mmrm"), _contrast_rows(rng, names, post, "lmm")],
                               ignore_index=True)
    desc = []
    for (name, arm, visit), g in analysis.groupby(["outcome", "arm", "visit"], sort=False):
        s, c = g["score"].dropna(), g["change"].dropna()
        desc.append({"outcome": name, "arm": arm, "visit": visit, "n": len(s), "mean": s.mean(), "sd": s.std(),
                     "median": s.median(), "q1": s.quantile(0.25), "q3": s.quantile(0.75),
                     "n_missing": int(g["score"].isna().sum()), "change_mean": c.mean() if len(c) else np.nan,
                     "change_sd": c.std() if len(c) > 1 else np.nan})
    t["descriptives"] = pd.DataFrame(desc)
    n_people = analysis.groupby("arm")["participant"].nunique()
    t["models"] = pd.DataFrame([{"outcome": name, "model": model, "covariance": "us" if model == "mmrm" else "cs",
                                 "df_method": "satterthwaite", "neg2_reml_loglik": 500.0, "aic": 510.0,
                                 "n_participants": int(n_people.sum()), "n_observations": int(analysis["score"].notna().sum()),
                                 "fallback_attempts": 0} for name in names for model in ("mmrm", "lmm")])
    mult = t["contrasts"][t["contrasts"]["model"] == "mmrm"].copy()
    mult = mult[mult["visit"].isin(key) & mult["outcome"].isin(efficacy)]
    mult["p_adjusted"] = np.minimum(1, mult["p_value"] * 2)
    mult["adjustment"] = np.where(mult["outcome"] == efficacy[0], "none (primary)", "Holm across secondary outcomes")
    t["multiplicity"] = mult.reset_index(drop=True)
    es = []
    for name in efficacy:
        for visit in key:
            for method in ("mmrm_over_baseline_sd", "observed_change"):
                g = float(rng.normal(-0.4, 0.3))
                es.append({"outcome": name, "visit": visit, "method": method, "sd_source": "baseline", "sd": 8.0,
                           "estimate": g, "ci_lower": g - 0.5, "ci_upper": g + 0.5,
                           "n_reference": int(n_people.get(reference, 0)), "n_treatment": int(n_people.get(treatment, 0))})
    t["effect_sizes"] = pd.DataFrame(es)
    resp, post_rows = [], []
    for spec in specs:
        name = spec["name"]
        if name not in efficacy:
            continue
        for visit in key:
            for definition, threshold in (("response", 0.3), ("remission", spec.get("remission_below"))):
                if threshold is None:
                    continue
                nt, nr = int(rng.integers(0, 10)), int(rng.integers(0, 10))
                rd = (nt - nr) / 20
                resp.append({"outcome": name, "visit": visit, "definition": definition, "threshold": threshold,
                             "n_treatment": nt, "N_treatment": 20, "pct_treatment": 5.0 * nt, "n_reference": nr,
                             "N_reference": 20, "pct_reference": 5.0 * nr, "risk_difference": rd,
                             "rd_ci_lower": rd - 0.2, "rd_ci_upper": rd + 0.2, "odds_ratio": 1.5, "or_ci_lower": 0.5,
                             "or_ci_upper": 4.0, "fisher_p": 0.5, "nnt": 5.0, "nnt_ci_lower": 2.0, "nnt_ci_upper": 9.0,
                             "nnt_note": "NNTB 5.0; CI: NNTB 2.0 to infinity to NNTH 9.0", "missing_treatment": 0,
                             "missing_reference": 0, "or_note": "sample OR"})
            for prior in ("flat", "sceptical"):
                m = float(rng.normal(-3, 2))
                post_rows.append({"outcome": name, "visit": visit, "prior": prior,
                                  "prior_mean": 0.0 if prior == "sceptical" else np.nan,
                                  "prior_sd": 3.0 if prior == "sceptical" else np.nan, "posterior_mean": m,
                                  "posterior_sd": 2.0, "prob_benefit": 0.9,
                                  "mcid": spec.get("mcid", np.nan),
                                  "prob_benefit_beyond_mcid": 0.4 if spec.get("mcid") else np.nan,
                                  "approximation": "normal"})
    t["responders"] = pd.DataFrame(resp)
    t["posterior"] = pd.DataFrame(post_rows)
    sens = []
    for analysis_name, model in (("ancova_complete_case", "ancova"), ("mmrm_cs", "mmrm"),
                                 ("randomization_test", "mmrm"), ("lmm_random_intercept", "lmm")):
        rows = _contrast_rows(rng, efficacy, key, model, {"analysis": analysis_name, "note": "fitted"})
        sens.append(rows)
    t["sensitivity"] = pd.concat(sens, ignore_index=True)
    mi = [_contrast_rows(rng, efficacy, key, "ancova", {"analysis": a, "imputations": 100,
                                                        "fraction_missing_info": 0.1})
          for a in ("mi_mar", "mi_j2r", "mi_cir", "mi_cr")]
    t["multiple_imputation"] = pd.concat(mi, ignore_index=True)
    tip = []
    for name in efficacy:
        est = float(rng.normal(-4, 1))
        for delta in range(0, 21):
            e = est + 0.3 * delta
            tip.append({"outcome": name, "visit": key[-1], "delta": delta, "estimate": e, "std_error": 2.0,
                        "df": 30.0, "ci_lower": e - 4, "ci_upper": e + 4, "p_value": 0.2, "significant": e + 4 < 0,
                        "favours_treatment": e < 0,
                        "conclusion": "significant benefit" if e + 4 < 0 else "not significant",
                        "tipping_delta": np.nan, "note": ""})
    t["tipping_point"] = pd.DataFrame(tip)
    md = []
    for name in names:
        for arm in arms:
            sub = analysis[(analysis["outcome"] == name) & (analysis["arm"] == arm)]
            n_arm = sub["participant"].nunique()
            for visit in config["visits"]["order"]:
                obs = int(sub.loc[sub["visit"] == visit, "score"].notna().sum())
                md.append({"table": "missingness", "outcome": name, "arm": arm, "visit": visit, "n_randomized": n_arm,
                           "n_observed": obs, "n_missing": n_arm - obs,
                           "pct_missing": 100 * (n_arm - obs) / n_arm if n_arm else np.nan})
            lasts = sub.dropna(subset=["score"]).groupby("participant")["visit"].last().value_counts()
            for visit in config["visits"]["order"]:
                md.append({"table": "dropout", "outcome": name, "arm": arm, "visit": visit, "n_randomized": n_arm,
                           "n_last_observed": int(lasts.get(visit, 0)), "n_monotone": int(lasts.get(visit, 0)),
                           "n_intermittent": 0})
    t["missing_data"] = pd.DataFrame(md)
    feas = [{"measure": "randomized", "arm": arm, "visit": np.nan, "value": int(n_people.get(arm, 0)),
             "note": ""} for arm in arms]
    for visit in post:
        for arm in arms + ["all"]:
            sub = analysis if arm == "all" else analysis[analysis["arm"] == arm]
            den = sub["participant"].nunique()
            num = sub.loc[(sub["visit"] == visit) & sub["score"].notna(), "participant"].nunique()
            feas.append({"measure": "retention", "arm": arm, "visit": visit, "numerator": num, "denominator": den,
                         "proportion": num / den if den else np.nan, "ci_lower": 0.5, "ci_upper": 1.0,
                         "value": num / den if den else np.nan, "note": "participants with any score"})
    t["feasibility"] = pd.DataFrame(feas)
    t["estimands"] = pd.DataFrame([{"outcome": name, "population": "all randomized", "variable": f"change in {name}",
                                    "treatment": f"{treatment} versus {reference}",
                                    "intercurrent_event": "dropout", "strategy": "hypothetical",
                                    "summary": "difference in mean change"} for name in names])
    mech = [s["name"] for s in specs if s.get("role") == "mechanism"]
    t["mechanism"] = pd.DataFrame([{"mechanism_outcome": m, "primary_outcome": names[0], "visit": post[-1], "arm": a,
                                    "n": 10, "pearson_r": 0.3, "pearson_ci_lower": -0.2, "pearson_ci_upper": 0.7,
                                    "pearson_p": 0.3, "spearman_rho": 0.3, "spearman_ci_lower": -0.2,
                                    "spearman_ci_upper": 0.7, "spearman_p": 0.3} for m in mech for a in arms + ["all"]])
    t["table_one"] = table_one(analysis, trial.raw, config)
    marked = _NOTE_TABLES if "all" in not_estimable else not_estimable
    last = names[-1]
    for name in marked:
        if name not in t:
            continue
        columns = ["estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value", "p_adjusted", "posterior_mean",
                   "posterior_sd", "prob_benefit", "prob_benefit_beyond_mcid"]
        t[name] = _mark(t[name], last, columns)
        if name == "contrasts":
            t[name] = _mark(t[name], names[0], columns, visit=post[-1])
    return t
