"""Synthetic trials for the test gallery, one quirk each (tests/test_gallery.py).

    python tests/gallery/make_quirks.py <out-dir>

Writes the data files named in tests/gallery/gallery.yaml into ``out-dir``; nothing here is
committed. Every trial comes from :func:`simulate_trial` (seeded ``numpy.random.SeedSequence``,
one stream per trial, so adding a trial changes no other): two arms, a baseline and
post-baseline visits, correlated scores that improve more under treatment, monotone dropout.
Each ``write_*`` function then gives the data the shape of one real-world export.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["simulate_trial", "QUIRKS", "write_all"]

ROOT_SEED = 20260514


def simulate_trial(rng: np.random.Generator, n_per_arm: int, n_visits: int, *, mean: float = 40.0,
                   sd: float = 9.0, effect: float | None = None, correlation: float = 0.6, dropout: float = 0.12,
                   low: float = 0.0, high: float = 80.0) -> pd.DataFrame:
    """One simulated two-arm trial, long: ``participant`` (1..2n), ``arm`` (0 reference, 1
    treatment), ``visit`` (0 = baseline .. n_visits - 1), ``score`` (integers in [low, high],
    NaN after dropout).

    Scores are multivariate normal with SD ``sd`` and AR(1) correlation ``correlation`` between
    visits; the reference arm improves by 10% of ``mean`` per visit over the first three, the
    treatment arm by ``effect`` (default 15% of ``mean``) more at the last visit (linearly in
    between). Each participant drops out
    after visit k (k >= 1) with probability ``dropout`` spread evenly over the visits.
    """
    n = 2 * n_per_arm
    arm = np.repeat([0, 1], n_per_arm)
    lags = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    cov = sd**2 * correlation**lags
    time = np.arange(n_visits) / max(n_visits - 1, 1)
    effect = -0.15 * mean if effect is None else effect
    course = mean - 0.1 * mean * np.minimum(np.arange(n_visits), 3)
    means = course[None, :] + effect * arm[:, None] * time[None, :]
    scores = means + rng.multivariate_normal(np.zeros(n_visits), cov, size=n)
    scores = np.clip(np.round(scores), low, high)
    drops = rng.random(n) < dropout
    last = rng.integers(1, n_visits, size=n)  # last visit attended by those who drop out
    for i in np.flatnonzero(drops):
        scores[i, last[i]:] = np.nan
    return pd.DataFrame({
        "participant": np.repeat(np.arange(1, n + 1), n_visits),
        "arm": np.repeat(arm, n_visits),
        "visit": np.tile(np.arange(n_visits), n),
        "score": scores.ravel(),
    })


def _stream(name: str) -> np.random.Generator:
    """The trial's own random stream: the root seed spawned by the trial's name."""
    key = [int.from_bytes(name.encode(), "little") % 2**32]
    return np.random.default_rng(np.random.SeedSequence([ROOT_SEED, *key]))


def _labels(frame: pd.DataFrame, arms: list, visits: list) -> pd.DataFrame:
    """Replace the codes 0/1 and 0..k-1 by the given arm and visit labels."""
    return frame.assign(arm=frame["arm"].map(dict(enumerate(arms))),
                        visit=frame["visit"].map(dict(enumerate(visits))))


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, na_rep="", float_format="%.10g")


# --- one function per quirk: writes its file(s) into out ------------------------------------

def write_numeric_codes(out: Path) -> None:
    """Arms coded 0/1 and visits as study days 1, 8, 15, 29 (baseline day 1)."""
    frame = simulate_trial(_stream("numeric-codes"), 30, 4, high=52, mean=24, sd=6)
    frame = frame.assign(visit=frame["visit"].map({0: 1, 1: 8, 2: 15, 3: 29}))
    frame.rename(columns={"participant": "subject", "arm": "group", "visit": "day", "score": "hamd17"})\
        .pipe(_csv, out / "numeric_codes.csv")


def write_leading_zeros(out: Path) -> None:
    """Two sites numbering participants their own way: site A "001".."020", site B "1".."20".
    "007" (site A) and "7" (site B) are different people, in different arms: site A's odd codes
    are in the treatment arm, site B's odd codes in the reference arm."""
    frame = simulate_trial(_stream("leading-zeros"), 20, 3, high=27, mean=16, sd=4)
    # participants 1..20 are in the reference arm, 21..40 in the treatment arm
    codes = {}
    for k in range(1, 21):
        a_treated, b_treated = k % 2 == 1, k % 2 == 0
        half = (k + 1) // 2  # 1..10 within each arm and site
        codes[half + (20 if a_treated else 0)] = ("A", f"{k:03d}")
        codes[half + 10 + (20 if b_treated else 0)] = ("B", str(k))
    frame["site"] = frame["participant"].map(lambda p: codes[p][0])
    frame["participant"] = frame["participant"].map(lambda p: codes[p][1])
    frame = _labels(frame, ["usual care", "intervention"], ["baseline", "week 6", "week 12"])
    frame = frame.sort_values(["site", "participant"], kind="stable")
    _csv(frame[["participant", "site", "arm", "visit", "score"]].rename(columns={"score": "phq9"}),
         out / "leading_zeros.csv")


def write_missing_codes(out: Path) -> None:
    """Missing scores written as -99, 999 and "." (PHQ-9), and as -9 in a second outcome
    (GAD-7, its own missing code)."""
    rng = _stream("missing-codes")
    frame = simulate_trial(rng, 25, 4, high=27, mean=16, sd=4)
    gad = simulate_trial(_stream("missing-codes-gad"), 25, 4, high=21, mean=13, sd=3)["score"]
    text = frame["score"].map(lambda v: "" if np.isnan(v) else str(int(v))).astype(object)
    post = frame["visit"] > 0
    for code, rows in zip(["-99", "999", "."], np.array_split(rng.permutation(np.flatnonzero(post)), 12)[:3]):
        text.iloc[rows[:5]] = code
    text[(text == "") & post] = "-99"  # the dropouts, as the export tool writes them
    gad_text = gad.map(lambda v: "-9" if np.isnan(v) else str(int(v)))
    frame = frame.assign(phq9=text, gad7=gad_text.where(~post | (text != "999"), "-9"))
    frame = _labels(frame.drop(columns="score"), ["waitlist", "app"], ["baseline", "week 2", "week 4", "week 8"])
    _csv(frame, out / "missing_codes.csv")


def write_basval(out: Path) -> None:
    """An ADaM-like export of the post-baseline records only, the baseline score in BASVAL on
    every row (as in ADQS), and no baseline row."""
    frame = simulate_trial(_stream("basval"), 30, 4)
    base = frame[frame["visit"] == 0].set_index("participant")["score"]
    post = frame[frame["visit"] > 0].dropna(subset=["score"]).copy()
    post["BASVAL"] = post["participant"].map(base)
    post["SUBJID"] = post["participant"].map("S{:04d}".format)
    post["TRT01P"] = post["arm"].map({0: "Placebo", 1: "Drug A"})
    post["AVISIT"] = post["visit"].map({1: "Week 2", 2: "Week 6", 3: "Week 12"})
    post = post.rename(columns={"score": "AVAL"})
    _csv(post[["SUBJID", "TRT01P", "AVISIT", "AVAL", "BASVAL"]], out / "basval.csv")


def write_many_visits(out: Path) -> None:
    """12 participants (6 per arm) x 11 visits: baseline and 10 weekly visits."""
    frame = simulate_trial(_stream("many-visits"), 6, 11, dropout=0.2)
    visits = ["baseline"] + [f"week {k}" for k in range(1, 11)]
    _labels(frame, ["sham", "active"], visits).rename(columns={"score": "pain"}).pipe(_csv, out / "many_visits.csv")


def write_large(out: Path, n_per_arm: int, name: str, outcomes: int) -> None:
    """``2 * n_per_arm`` participants x 4 visits; ``outcomes`` outcomes."""
    frame = simulate_trial(_stream(name), n_per_arm, 4)
    frame = _labels(frame, ["control", "treatment"], ["baseline", "month 1", "month 3", "month 6"])
    frame = frame.rename(columns={"score": "primary_score"})
    if outcomes > 1:
        second = simulate_trial(_stream(name + "-secondary"), n_per_arm, 4, mean=30, sd=7, effect=-3)["score"]
        frame["secondary_score"] = second.where(frame["primary_score"].notna()).to_numpy()
    frame["participant"] = frame["participant"].map("P{:05d}".format)
    _csv(frame, out / f"{name.replace('-', '_')}.csv")


def write_no_followup(out: Path) -> None:
    """A secondary outcome (quality of life) scored at baseline only: no post-baseline score."""
    frame = simulate_trial(_stream("no-followup"), 20, 3)
    qol = simulate_trial(_stream("no-followup-qol"), 20, 3, mean=60, high=100)["score"]
    frame["qol"] = qol.where(frame["visit"] == 0).to_numpy()
    _labels(frame, ["placebo", "drug"], ["baseline", "day 7", "day 28"]).rename(columns={"score": "symptoms"})\
        .pipe(_csv, out / "no_followup.csv")


def write_case_names(out: Path) -> None:
    """Two outcomes whose names differ only by case and punctuation: the clinician-rated
    "CAPS-5" and the self-rated "caps 5" (different columns, different scores)."""
    frame = simulate_trial(_stream("case-names"), 20, 3)
    frame["caps5_self"] = simulate_trial(_stream("case-names-self"), 20, 3, mean=45)["score"].to_numpy()
    frame = frame.rename(columns={"score": "caps5_clin"})
    _labels(frame, ["placebo", "drug"], ["baseline", "week 4", "week 8"]).pipe(_csv, out / "case_names.csv")


def write_excel(out: Path) -> None:
    """An Excel workbook as a data manager sends it: a title and a blank row above the header
    (header on row 3), numeric cells for ids, arm codes 1/2 and visit weeks 0, 4, 8, 12, a
    "." typed for a missing score, and the value labels of the codes on a second sheet."""
    frame = simulate_trial(_stream("excel"), 20, 4, high=60, mean=30, sd=7)
    frame = frame.assign(arm=frame["arm"] + 1, visit=frame["visit"].map({0: 0, 1: 4, 2: 8, 3: 12}))
    frame["score"] = frame["score"].astype(object).where(frame["score"].notna(), None)
    frame.loc[frame.index[frame["visit"].eq(8)][:3], "score"] = "."
    frame = frame.rename(columns={"participant": "ID", "arm": "ARM", "visit": "WEEK", "score": "MADRS"})
    codebook = pd.DataFrame({"variable": ["ARM", "ARM", "WEEK", "WEEK", "WEEK", "WEEK"],
                             "code": [1, 2, 0, 4, 8, 12],
                             "label": ["placebo", "esketamine", "baseline", "week 4", "week 8", "week 12"]})
    with pd.ExcelWriter(out / "excel_export.xlsx", engine="openpyxl") as writer:
        pd.DataFrame([["MADRS total score by week: pilot export"]]).to_excel(
            writer, sheet_name="Data", header=False, index=False, startrow=0)
        frame.to_excel(writer, sheet_name="Data", index=False, startrow=2)
        codebook.to_excel(writer, sheet_name="Codebook", index=False)


def write_spss(out: Path) -> None:
    """An SPSS file: arm and visit stored as numeric codes with value labels (1 = "Placebo",
    2 = "Active"; 0 = "Baseline", 1 = "Week 4", 2 = "Week 8"), -9 declared user-missing."""
    import pyreadstat

    frame = simulate_trial(_stream("spss"), 20, 3, high=60, mean=30, sd=7)
    frame = frame.assign(arm=frame["arm"] + 1.0, visit=frame["visit"].astype(float),
                         participant=frame["participant"].astype(float),
                         madrs=frame["score"].fillna(-9.0)).drop(columns="score")
    pyreadstat.write_sav(
        frame, str(out / "spss_export.sav"),
        column_labels=["Participant number", "Randomized arm", "Visit", "MADRS total score"],
        variable_value_labels={"arm": {1.0: "Placebo", 2.0: "Active"},
                               "visit": {0.0: "Baseline", 1.0: "Week 4", 2.0: "Week 8"}},
        missing_ranges={"madrs": [-9.0]},
    )


QUIRKS = {
    "numeric_codes.csv": write_numeric_codes,
    "leading_zeros.csv": write_leading_zeros,
    "missing_codes.csv": write_missing_codes,
    "basval.csv": write_basval,
    "many_visits.csv": write_many_visits,
    "n1000.csv": lambda out: write_large(out, 500, "n1000", outcomes=2),
    "n5000.csv": lambda out: write_large(out, 2500, "n5000", outcomes=1),
    "no_followup.csv": write_no_followup,
    "case_names.csv": write_case_names,
    "excel_export.xlsx": write_excel,
    "spss_export.sav": write_spss,
}


def write_all(out: Path) -> list[Path]:
    """Write every quirk's file into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for write in QUIRKS.values():
        write(out)
    return [out / name for name in QUIRKS]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/gallery/make_quirks.py <out-dir>")
    for path in write_all(Path(sys.argv[1])):
        print(path.name)
