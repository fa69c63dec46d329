"""The trial as the report reads it: the typed :class:`~pilottrial.config.Trial`, the result
tables, the figures and the provenance record, held once by a :class:`Context`.

Every section builder takes a :class:`Context`. The helpers :func:`report_alpha`,
:func:`ci_level` and :func:`df_label` give the report's reading of the analysis settings; they
are also used by the crossover report (:mod:`pilottrial.report.document`).
"""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from pilottrial.config.trial import Outcome, Trial
from pilottrial.report.figures.limits import MISSING_PATTERN_ROWS, TRAJECTORY_LINES
from pilottrial.report.format import ESTIMATE_DECIMALS, and_list, arm_label, as_float, fmt_int, not_estimable_reason
from pilottrial.report.sections.tables import first_row, has_columns, mmrm_row, select_rows, table_of

__all__ = ["Context", "report_alpha", "ci_level", "df_label", "outcomes_primary_first", "trial_phase", "trial_kind"]


def report_alpha(trial: Trial) -> float:
    """The two-sided level of the report's intervals: ``analysis.alpha``, or 0.05 when it is not in (0, 1)."""
    alpha = as_float(trial.alpha)
    return alpha if alpha is not None and 0.0 < alpha < 1.0 else 0.05


def ci_level(trial: Trial) -> str:
    """The confidence level as text, ``"95%"`` for alpha 0.05."""
    return f"{100.0 * (1.0 - report_alpha(trial)):g}%"


def df_label(trial: Trial) -> str:
    """The name of the MMRM's degrees of freedom (``analysis.df_method``): ``Satterthwaite``,
    ``Kenward-Roger`` or ``Kenward-Roger (linear)``."""
    method = str(trial.section("analysis").get("df_method", "satterthwaite"))
    key = method.lower().replace("_", "-").replace(" ", "-")
    if key in ("kenward-roger", "kenwardroger", "kr"):
        return "Kenward-Roger"
    if key == "kenward-roger-linear":
        return "Kenward-Roger (linear)"
    return "Satterthwaite"


def trial_phase(trial: Trial) -> str | None:
    """``"pilot"`` or ``"feasibility"`` when ``trial.phase`` says so; None for any other trial.

    Only a trial whose config calls it a pilot or feasibility trial is called one in the report
    (estimation first, p-values for completeness); any other is a "randomized trial".
    """
    phase = str(trial.section("trial").get("phase") or "").strip().lower()
    return phase if phase in ("pilot", "feasibility") else None


def trial_kind(trial: Trial) -> str:
    """What the report calls the trial: ``"pilot trial"``, ``"feasibility trial"`` or ``"trial"``."""
    phase = trial_phase(trial)
    return f"{phase} trial" if phase else "trial"


def outcomes_primary_first(trial: Trial) -> list[Outcome]:
    """The outcomes in report order: the primary outcome first, the others in config order."""
    return sorted(trial.outcomes, key=lambda o: 0 if o.primary else 1)


class Context:
    """What every section builder needs: the trial, the tables and a few derived facts.

    Parameters
    ----------
    config : dict
        The validated trial config (typed once here as ``self.trial``).
    tables : dict, optional
        ``{name: DataFrame}`` of the result tables; absent ones read as empty.
    figures : list of dict, optional
        Figure blocks of :func:`pilottrial.report.sections.figure_blocks.figure_items`.
    provenance : dict, optional
        The provenance record (:func:`pilottrial.provenance.record.provenance`).
    warnings : list of str, optional
        Data warnings from earlier steps.

    Notes
    -----
    The report's baseline visit is ``visits.baseline``, or the first visit of ``visits.order``
    when the config names none (a raw-score trial); the post-baseline visits are the others,
    and the key visits default to them.
    """

    def __init__(self, config: dict, tables: dict | None = None, figures: list[dict] | None = None,
                 provenance: dict | None = None, warnings: list[str] | None = None):
        self.trial = Trial.from_config(config)
        self.tables = tables if tables is not None else {}
        self.figures = figures or []
        self.provenance = provenance or {}
        self.extra_warnings = [str(w) for w in (warnings or []) if str(w).strip()]
        self.analysis = self.trial.section("analysis")
        #: The arms, reference first, and the comparisons (one, treatment minus reference, in a two-arm trial).
        self.arms = tuple(self.trial.arms)
        self.multi_arm = self.trial.is_multi_arm
        self.comparisons = tuple(self.trial.comparisons)
        self.reference = self.trial.reference
        #: The treatment arm of a two-arm trial; None with three or more arms (see :attr:`comparisons`).
        self.treatment = None if self.multi_arm else self.trial.treatment
        #: The arms as sentences and headers name them ("arm 0" for a bare code); with three or more
        #: arms ``treatment_name`` names the treatment arms together ("ketamine-0.2 and ketamine-0.5").
        self.reference_name = arm_label(self.reference)
        self.treatment_name = (and_list([arm_label(a) for a in self.trial.treatments]) if self.multi_arm
                               else arm_label(self.treatment))
        self.alpha = report_alpha(self.trial)
        self.level = ci_level(self.trial)
        self.df_label = df_label(self.trial)
        self.outcomes = outcomes_primary_first(self.trial)
        self.efficacy = [o for o in self.outcomes if not o.is_mechanism]
        self.mechanism = [o for o in self.outcomes if o.is_mechanism]
        self.primary = self.outcomes[0] if self.outcomes else None
        order = list(self.trial.visit_order)
        self.visit_order = order
        self.raw = self.trial.response == "raw"
        self.baseline = self.trial.baseline if self.trial.baseline is not None else (order[0] if order else None)
        #: ``"pilot"``, ``"feasibility"`` or None (:func:`trial_phase`); ``kind`` names the trial.
        self.phase = trial_phase(self.trial)
        self.is_pilot = self.phase is not None
        self.kind = trial_kind(self.trial)
        #: What a treatment effect is a difference in.
        self.effect_measure = "adjusted mean score" if self.raw else "adjusted mean change from baseline"
        self.post_baseline = [v for v in order if v != self.baseline]
        self.key_visits = list(self.trial.key_visits) or self.post_baseline
        #: Post-baseline visits with the key visits first (in their order), then the others.
        self.visits_key_first = self.key_visits + [v for v in self.post_baseline if v not in self.key_visits]

    def t(self, name: str) -> pd.DataFrame:
        """The result table ``name`` (empty when it was not produced)."""
        return table_of(self.tables, name)

    def mmrm_row(self, outcome: str, visit: str) -> pd.Series | None:
        """The primary MMRM contrast of an outcome at a visit, or None (:meth:`contrast`)."""
        return self.contrast(outcome, "mmrm", visit)

    def contrast(self, outcome: str, model: str, visit: str, comparison=None) -> pd.Series | None:
        """The contrast of an outcome at a visit from ``model`` (``mmrm``, ``lmm``), or None.

        With three or more arms, ``comparison`` (a :class:`~pilottrial.config.Comparison`) selects
        the rows of that comparison (``treatment`` column). A contrast without an estimate and
        without a note of its own gets the note of its model in models.csv (why the model could
        not be fitted), so that the report can say why.
        """
        contrasts = self.t("contrasts")
        if comparison is not None and "treatment" in contrasts.columns:
            contrasts = contrasts[contrasts["treatment"].astype(str) == comparison.name]
        if model == "mmrm":
            row = mmrm_row(contrasts, outcome, visit)
        else:
            row = first_row(contrasts, outcome=outcome, model=model, visit=visit)
        if row is None or as_float(row.get("estimate")) is not None or not_estimable_reason(row) is not None:
            return row
        reason = self.model_reason(outcome, model)
        if reason is None:
            return row
        row = row.copy()
        row["note"] = f"not estimable: {reason}"
        return row

    def model_reason(self, outcome: str, model: str) -> str | None:
        """Why the model of an outcome could not be fitted (its note in models.csv), or None."""
        row = first_row(self.t("models"), outcome=outcome, model=model)
        return not_estimable_reason(row) if row is not None else None

    @cached_property
    def n_by_arm(self) -> dict[str, int | None]:
        """Participants randomized per arm: feasibility.csv, else missing_data.csv (``n_randomized``),
        else the baseline descriptives (n + missing)."""
        feas = self.t("feasibility")
        out: dict[str, int | None] = {}
        for arm in self.arms:
            row = first_row(feas, measure="randomized", arm=arm) if has_columns(feas, "measure", "arm") else None
            value = as_float(row.get("value")) if row is not None else None
            out[arm] = int(round(value)) if value is not None else None
        if all(v is not None for v in out.values()):
            return out
        missing = self.t("missing_data")
        if has_columns(missing, "table", "arm", "n_randomized"):
            rows = missing[missing["table"].astype(str) == "missingness"]
            for arm in self.arms:
                counts = [as_float(x) for x in rows.loc[rows["arm"].astype(str) == arm, "n_randomized"]]
                counts = [x for x in counts if x is not None]
                if out[arm] is None and counts:
                    out[arm] = int(round(max(counts)))
            if all(v is not None for v in out.values()):
                return out
        desc = self.t("descriptives")
        if has_columns(desc, "arm", "visit", "n"):
            rows = desc[desc["visit"].astype(str) == str(self.baseline)] if self.baseline is not None else desc
            for arm in self.arms:
                if out[arm] is not None:
                    continue
                best = None
                for _, r in rows[rows["arm"].astype(str) == arm].iterrows():
                    n = as_float(r.get("n"))
                    if n is None:
                        continue
                    total = int(round(n + (as_float(r.get("n_missing")) or 0.0)))
                    best = total if best is None else max(best, total)
                out[arm] = best
        return out

    @property
    def n_total(self) -> int | None:
        """Participants randomized in both arms (None when neither count is known)."""
        known = [n for n in self.n_by_arm.values() if n is not None]
        return sum(known) if known else None

    def arm_n_text(self) -> str:
        """``"15 ketamine, 15 midazolam"``: the treatment arms, then the reference."""
        if self.multi_arm:
            return ", ".join(f"{fmt_int(self.n_by_arm.get(a))} {arm_label(a)}" for a in (*self.arms[1:], self.arms[0]))
        return (f"{fmt_int(self.n_by_arm.get(self.treatment))} {self.treatment_name}, "
                f"{fmt_int(self.n_by_arm.get(self.reference))} {self.reference_name}")

    def arm_columns(self) -> list[tuple[str, str]]:
        """A numeric table column per arm, reference first, headed by the arm's name."""
        return [(arm_label(a), "num") for a in self.arms]

    def decimals(self, outcome: str) -> tuple[int, int]:
        """(descriptive, estimate) decimals of an outcome: (1, 2) for scores whose baseline SD is at
        least 1, (2, 3) for small-scale outcomes (e.g. % BOLD signal change)."""
        desc = self.t("descriptives")
        if has_columns(desc, "outcome", "visit", "sd"):
            sds = [as_float(x) for x in select_rows(desc, outcome=outcome, visit=self.baseline)["sd"]]
            sds = [x for x in sds if x is not None]
            if sds and max(sds) < 1:
                return 2, 3
        return 1, ESTIMATE_DECIMALS

    def figures_for(self, section: str) -> list[dict]:
        """The figure blocks placed in a section, in their order (captions completed by :meth:`figure_note`)."""
        out = []
        for block in self.figures:
            if block["section"] != section:
                continue
            note = self.figure_note(block)
            if note:
                block = {**block, "caption": f"{block['caption']} {note}".strip(), "alt": f"{block['alt']} {note}"}
            out.append(block)
        return out

    def figure_note(self, block: dict) -> str:
        """What a figure's caption must add for a large trial: that the trajectories show a sample of
        the participants' lines, or that the missing-data pattern combines identical patterns
        (:mod:`pilottrial.report.figures.limits`); "" otherwise."""
        key = str(block.get("key", ""))
        counts = [n for n in self.n_by_arm.values() if n is not None]
        if key.endswith("_trajectories") and counts and max(counts) > TRAJECTORY_LINES:
            return (f"In an arm of more than {TRAJECTORY_LINES} participants the lines are those of a random sample "
                    f"of {TRAJECTORY_LINES}; the arm means use every participant.")
        if key.endswith("_missing_pattern") and counts and sum(counts) > MISSING_PATTERN_ROWS:
            return ("Participants with the same pattern of observed and missing visits share a row, labelled with "
                    "their number.")
        return ""
