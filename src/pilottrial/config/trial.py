"""The trial as a typed object, built once from the validated config.

A :class:`Trial` answers the questions every analysis asks of a config (which arm is the
reference, which visits follow baseline, which outcome is primary, what alpha is) in one place,
so that no module reads the config dict for them. The config dict stays available as
``trial.config`` for the few settings that belong to one analysis only.

Paths in a config file (``data.path``, ``harms.*.path``, ``feasibility.screening_log.path``)
are relative to the folder of the config file; absolute paths are used as they are
(:func:`pilottrial.config.load.load_config` resolves them).

Examples
--------
>>> from pilottrial.config import Trial
>>> trial = Trial.from_config({
...     "trial": {"name": "t", "design": "parallel"},
...     "arms": {"reference": "placebo", "treatment": "drug"},
...     "visits": {"baseline": "week0", "order": ["week0", "week4", "week8"], "key": ["week8"]},
...     "outcomes": [{"name": "HAM-D", "column": "hamd", "primary": True}],
...     "analysis": {"alpha": 0.05}})
>>> trial.arms, trial.post_baseline, trial.primary.name
(('placebo', 'drug'), ('week4', 'week8'), 'HAM-D')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilottrial.config.load import BASELINE_VISIT, baseline_from_column

__all__ = ["Comparison", "Outcome", "Trial"]


@dataclass(frozen=True)
class Comparison:
    """One between-arm comparison: ``treatment`` minus ``reference``.

    ``name`` is the value of the ``treatment`` column of the result tables: the treatment arm
    for comparisons with the trial's reference arm, ``"B vs A"`` for the other pairs of an
    all-pairs analysis.
    """

    treatment: str
    reference: str
    name: str

    @property
    def label(self) -> str:
        """``"treatment vs reference"`` (for sentences and figure rows)."""
        return f"{self.treatment} vs {self.reference}"

    @property
    def arms(self) -> tuple:
        """(reference, treatment)."""
        return (self.reference, self.treatment)

@dataclass(frozen=True)
class Outcome:
    """One outcome of the trial as the config declares it."""

    name: str
    role: str = "efficacy"
    primary: bool = False
    better: str = "lower"
    range: tuple | None = None
    mcid: float | None = None
    remission_below: float | None = None
    spec: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_efficacy(self) -> bool:
        return self.role == "efficacy"

    @property
    def is_mechanism(self) -> bool:
        return self.role == "mechanism"

    @classmethod
    def from_spec(cls, spec: dict) -> Outcome:
        rng = spec.get("range")
        return cls(name=str(spec["name"]), role=spec.get("role", "efficacy"), primary=bool(spec.get("primary")),
                   better=spec.get("better", "lower"), range=tuple(rng) if rng else None,
                   mcid=spec.get("mcid"), remission_below=spec.get("remission_below"), spec=spec)


@dataclass(frozen=True)
class Trial:
    """A validated trial: design, arms, visits, outcomes and alpha.

    Attributes
    ----------
    name, title, design : str
        ``trial.name`` (names the results folder), ``trial.title`` and ``trial.design``
        (``parallel`` or ``crossover``).
    reference : str
        The control arm's label (labels are text from the reader on).
    treatments : tuple of str
        The experimental arms, in config order (one in a two-arm trial; :attr:`treatment` is
        that one).
    visit_order : tuple of str
        All visits in chronological order (baseline first when there is one).
    baseline : str or None
        The baseline visit label; None for raw-score analyses without a baseline visit.
    key_visits : tuple of str
        The post-baseline visits reported first.
    outcomes : tuple of Outcome
    alpha : float
    config : dict
        The validated config with defaults filled (for analysis-specific settings).
    """

    name: str
    title: str
    design: str
    reference: str
    treatments: tuple
    visit_order: tuple
    baseline: str | None
    key_visits: tuple
    outcomes: tuple
    alpha: float
    config: dict = field(repr=False, compare=False)

    @classmethod
    def from_config(cls, config: dict) -> Trial:
        """The typed view of a validated config (:func:`pilottrial.config.validate_config`)."""
        visits = config.get("visits", {}) or {}
        order = tuple(str(v) for v in visits.get("order", []))
        baseline = visits.get("baseline")
        baseline = None if baseline is None else str(baseline)
        if baseline is None and baseline_from_column(config):  # the baseline is a column: its own visit
            baseline, order = BASELINE_VISIT, (BASELINE_VISIT,) + order
        post = order[1:] if baseline is not None and order and order[0] == baseline else order
        key = tuple(str(v) for v in visits.get("key", post))
        outcomes = tuple(Outcome.from_spec(o) for o in config.get("outcomes", []) or [])
        if outcomes and not any(o.primary for o in outcomes):
            first = outcomes[0]
            outcomes = (Outcome(**{**first.__dict__, "primary": True}),) + outcomes[1:]
        info = config.get("trial", {}) or {}
        arms = config.get("arms", {}) or {}
        return cls(name=str(info.get("name", "")), title=str(info.get("title", info.get("name", ""))),
                   design=info.get("design", "parallel"), reference=str(arms.get("reference")),
                   treatments=tuple(str(a) for a in (arms.get("treatments") or [arms.get("treatment")])),
                   visit_order=order, baseline=baseline,
                   key_visits=key, outcomes=outcomes,
                   alpha=float((config.get("analysis", {}) or {}).get("alpha", 0.05)), config=config)

    @classmethod
    def load(cls, path) -> Trial:
        """Read, validate and type a config file."""
        from pilottrial.config.load import load_config

        return cls.from_config(load_config(path))

    # ---- arms and visits ---------------------------------------------------------------------
    @property
    def arms(self) -> tuple:
        """(reference, treatment, ...): the reference arm first, then the treatments in config order."""
        return (self.reference, *self.treatments)

    @property
    def treatment(self) -> str:
        """The experimental arm of a two-arm trial (:attr:`comparisons` for three or more arms)."""
        if len(self.treatments) != 1:
            raise ValueError(f"trial {self.name!r} has {len(self.arms)} arms: use Trial.comparisons, not Trial.treatment")
        return self.treatments[0]

    @property
    def n_arms(self) -> int:
        return len(self.arms)

    @property
    def is_multi_arm(self) -> bool:
        """Three or more arms."""
        return len(self.arms) > 2

    @property
    def comparison_mode(self) -> str:
        """``vs_reference`` (each treatment minus the reference) or ``all_pairs``."""
        return (self.config.get("analysis", {}) or {}).get("comparisons", "vs_reference")

    @property
    def arm_adjustment(self) -> str:
        """Adjustment across the comparisons at one visit: ``dunnett`` (multivariate t), ``holm`` or ``none``.
        A two-arm trial has one comparison, which every adjustment leaves as it is."""
        return (self.config.get("analysis", {}) or {}).get("arm_adjustment", "dunnett")

    @property
    def comparisons(self) -> tuple:
        """The between-arm comparisons, in report order.

        ``vs_reference``: each treatment minus the reference. ``all_pairs``: those, then each
        later treatment minus each earlier one (config order), named ``"B vs A"``.

        >>> t = Trial.from_config({"trial": {"name": "t"}, "analysis": {"comparisons": "all_pairs"},
        ...     "arms": {"reference": "placebo", "treatments": ["low", "high"]}})
        >>> [c.name for c in t.comparisons]
        ['low', 'high', 'high vs low']
        """
        pairs = [Comparison(t, self.reference, t) for t in self.treatments]
        if self.comparison_mode == "all_pairs":
            pairs += [Comparison(later, earlier, f"{later} vs {earlier}")
                      for i, earlier in enumerate(self.treatments) for later in self.treatments[i + 1:]]
        return tuple(pairs)

    def pair(self, comparison: Comparison) -> Trial:
        """A two-arm view of the trial for one comparison: ``comparison.reference`` is its
        reference arm and ``comparison.treatment`` its treatment (for analyses defined on two
        arms, run on the data of those two arms)."""
        config = {**self.config, "arms": {"reference": comparison.reference, "treatment": comparison.treatment}}
        return Trial(name=self.name, title=self.title, design=self.design, reference=comparison.reference,
                     treatments=(comparison.treatment,), visit_order=self.visit_order, baseline=self.baseline,
                     key_visits=self.key_visits, outcomes=self.outcomes, alpha=self.alpha, config=config)

    @property
    def post_baseline(self) -> tuple:
        """The visits after baseline, in order (all visits when there is no baseline visit)."""
        if self.baseline is not None and self.visit_order and self.visit_order[0] == self.baseline:
            return self.visit_order[1:]
        return self.visit_order

    @property
    def is_crossover(self) -> bool:
        return self.design == "crossover"

    @property
    def response(self) -> str:
        """``change`` (from baseline) or ``raw`` (scores)."""
        return (self.config.get("analysis", {}) or {}).get("response", "change")

    # ---- outcomes ----------------------------------------------------------------------------
    @property
    def primary(self) -> Outcome:
        return next(o for o in self.outcomes if o.primary)

    @property
    def efficacy_outcomes(self) -> tuple:
        return tuple(o for o in self.outcomes if o.is_efficacy)

    @property
    def mechanism_outcomes(self) -> tuple:
        return tuple(o for o in self.outcomes if o.is_mechanism)

    @property
    def outcome_names(self) -> list:
        return [o.name for o in self.outcomes]

    def outcome(self, name: str) -> Outcome:
        """The outcome called ``name`` (KeyError when there is none)."""
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)

    def role_of(self, name: str) -> str:
        """The role of an outcome; ``efficacy`` for names the config does not list."""
        try:
            return self.outcome(name).role
        except KeyError:
            return "efficacy"

    # ---- files -------------------------------------------------------------------------------
    @property
    def data_path(self) -> Path:
        return Path(self.config["data"]["path"])

    def section(self, key: str) -> Any:
        """An optional top-level config block (``harms``, ``feasibility``, ``power``...) or {}."""
        return self.config.get(key) or {}
