"""A trial is described, never coded: loading and validating the trial config.

The JSON schema (``config/config.schema.yaml``, also ``workflow/schemas/``) is the single
source of truth for keys, types and defaults; :func:`validate_config` fills the defaults and
adds the checks a schema cannot express (labels that must agree with each other).
"""

from __future__ import annotations

import copy
import difflib
import os
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from pilottrial.errors import InputError

__all__ = ["load_config", "validate_config", "config_schema", "labels_as_text", "resolve_paths", "quoting_hint",
           "BASELINE_VISIT", "baseline_from_column"]

#: The visit label of the baseline when a parallel trial gives it as a column of the post-baseline
#: rows (``outcomes[].baseline_column``): the analysis table has a baseline row under this label, as
#: if the data had one (:func:`baseline_from_column`).
BASELINE_VISIT = "baseline"


def baseline_from_column(config: dict) -> bool:
    """True when a parallel trial gives its baseline as a column of the post-baseline rows:
    ``visits.baseline`` omitted and ``outcomes[].baseline_column`` named (ADaM ``BASE``, a
    ``BASVAL`` column). Its visits are then :data:`BASELINE_VISIT` followed by ``visits.order``.

    Examples
    --------
    >>> baseline_from_column({"visits": {"order": ["week 2", "week 6"]},
    ...                       "outcomes": [{"name": "HAM-D", "column": "AVAL", "baseline_column": "BASE"}]})
    True
    """
    if (config.get("trial") or {}).get("design", "parallel") == "crossover":
        return False
    if (config.get("visits") or {}).get("baseline") is not None:
        return False
    return any(isinstance(o, dict) and o.get("baseline_column") for o in config.get("outcomes") or [])


def _as_number(label):
    try:
        return float(label)
    except (TypeError, ValueError):
        return None


def _same_number(found, configured) -> bool:
    """Labels that are the same number written differently ('01' and 1, '1.0' and 1), or a YAML
    1.1 octal: ``010`` unquoted in YAML is the number 8."""
    f, c = _as_number(found), _as_number(configured)
    if f is None or c is None or str(found) == str(configured):
        return False
    if f == c:
        return True
    text = str(found).strip()
    return len(text) > 1 and text[0] == "0" and set(text[1:]) <= set("01234567") and int(text, 8) == c


def quoting_hint(found, configured, key: str) -> str | None:
    """A fix for labels written differently as numbers in two places ('01' and 1, '1.0' and 1):
    labels are compared as text, so the config must write them as the data (or ``visits.order``)
    do, in quotes. None when no found label matches a configured one as a number.

    Examples
    --------
    >>> quoting_hint(["01", "02"], ["1", "2"], "visits.order")
    "labels are text: the data write '01' (config: 1), '02' (config: 2); write them in visits.order exactly as \
in the data, in quotes (e.g. '01')"
    """
    pairs = [(f, c) for f in found for c in configured if _same_number(f, c)]
    if not pairs:
        return None
    shown = ", ".join(f"'{f}' (config: {c})" for f, c in pairs[:3])
    return (f"labels are text: the data write {shown}; write them in {key} exactly as in the data, in quotes "
            f"(e.g. '{pairs[0][0]}')")


def _label_mismatch_fix(labels, order, key: str, fix: str) -> str:
    """``fix``, or a quoting fix when ``labels`` (of ``key``) and labels of ``visits.order`` are
    the same number written differently (``key: [1]`` with ``order: ['01', ...]``)."""
    pairs = [(label, o) for label in labels for o in order if _same_number(label, o) or _same_number(o, label)]
    if not pairs:
        return fix
    shown = ", ".join(f"{label!r} ({key}) and {o!r} (visits.order)" for label, o in pairs[:3])
    return (f"labels are text: {shown} are the same number written differently; write each label the same way "
            f"everywhere, in quotes, as the data write it (e.g. '{pairs[0][1]}')")


def config_schema() -> dict:
    """The config JSON schema as a dict."""
    text = resources.files("pilottrial.config").joinpath("config.schema.yaml").read_text()
    # libyaml's loader when PyYAML has it (the same objects, several times faster; read at every workflow start)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 -- a safe loader


def _fill_defaults(instance, schema):
    """Insert schema defaults for absent keys, recursively (objects and arrays of objects)."""
    if schema.get("type") == "object" and isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                _fill_defaults(instance[key], sub)
    elif schema.get("type") == "array" and isinstance(instance, list) and "items" in schema:
        for item in instance:
            _fill_defaults(item, schema["items"])


def _path_of(error) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (("." if parts else "") + str(p)))
    return "".join(parts) or "(top level)"


def _schema_error(error, source, schema) -> InputError:
    key = _path_of(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        hints = [difflib.get_close_matches(k, allowed, n=1) for k in extra]
        hint = "; ".join(f"did you mean {h[0]!r} instead of {k!r}?" for k, h in zip(extra, hints) if h)
        return InputError(f"unknown key(s) {extra} under {key}",
                          file=source, column=None,
                          fix=hint or f"use only the documented keys {allowed} (config/README.md)")
    if error.validator == "required":
        return InputError(error.message.replace("'", "") + f" under {key}", file=source,
                          fix="add the key; config/README.md documents each one")
    if error.validator == "enum":
        return InputError(f"{key} is {error.instance!r}", file=source,
                          fix=f"use one of {error.validator_value}")
    expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    if error.validator == "type" and "string" in expected and isinstance(error.instance, (int, float)) \
            and not isinstance(error.instance, bool):
        return InputError(f"{key}: {error.message}", file=source,
                          fix=f"names and codes are text: write {key} in quotes, exactly as the data write it "
                              f"(e.g. '{error.instance}'; YAML reads 01 as 1 and 010 as 8)")
    return InputError(f"{key}: {error.message}", file=source,
                      fix="see config/README.md for the expected form")


#: Config keys holding file paths (relative to the config file's folder).
PATH_KEYS = (("data",), ("harms", "adverse_events"), ("harms", "dissociation"), ("feasibility", "screening_log"))


def resolve_paths(config: dict, base_dir) -> dict:
    """Resolve the file paths of a config relative to ``base_dir`` (the config file's folder).

    Absolute paths are kept. A resolved path inside the working directory is written relative
    to it (so Snakemake inputs and provenance records stay short and portable), else absolute.
    """
    base = Path(base_dir)
    cwd = Path.cwd().resolve()
    for keys in PATH_KEYS:
        block = config
        for key in keys:
            block = block.get(key) if isinstance(block, dict) else None
        if not isinstance(block, dict) or not isinstance(block.get("path"), str):
            continue
        path = Path(block["path"])
        if not path.is_absolute():
            path = Path(os.path.normpath((base if base.is_absolute() else cwd / base) / path))
        try:
            block["path"] = str(path.relative_to(cwd))
        except ValueError:
            block["path"] = str(path)
    return config


def _label_text(value):
    """A label written as a YAML number (``reference: 0``, ``order: [1, 8, 15]``) as the text a
    data file shows for it: ``0`` -> ``"0"``, ``1.5`` -> ``"1.5"``; text is kept as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return str(int(value)) if isinstance(value, int) else repr(float(value))


def labels_as_text(config: dict) -> dict:
    """Turn the arm and visit labels of a config into text, in place, before validation.

    Labels are labels: the data's arm codes 0/1 or visit days 1, 8, 15 are read as text, and a
    config may write them as YAML numbers. Covers ``arms``, ``visits.baseline/order/key``, the
    keys of ``visits.windows`` and of ``outcomes[].columns``, ``power.visit`` and the visits of
    ``feasibility.progression_criteria``.
    """
    arms = config.get("arms")
    if isinstance(arms, dict):
        for key in ("reference", "treatment"):
            if key in arms:
                arms[key] = _label_text(arms[key])
        if isinstance(arms.get("treatments"), list):
            arms["treatments"] = [_label_text(a) for a in arms["treatments"]]
    visits = config.get("visits")
    if isinstance(visits, dict):
        if "baseline" in visits:
            visits["baseline"] = _label_text(visits["baseline"])
        for key in ("order", "key"):
            if isinstance(visits.get(key), list):
                visits[key] = [_label_text(v) for v in visits[key]]
        if isinstance(visits.get("windows"), dict):
            visits["windows"] = {_label_text(k): v for k, v in visits["windows"].items()}
    for outcome in config.get("outcomes") or []:
        if isinstance(outcome, dict) and isinstance(outcome.get("columns"), dict):
            outcome["columns"] = {_label_text(k): v for k, v in outcome["columns"].items()}
    power = config.get("power")
    if isinstance(power, dict) and "visit" in power:
        power["visit"] = _label_text(power["visit"])
    feasibility = config.get("feasibility")
    if isinstance(feasibility, dict):
        for criterion in feasibility.get("progression_criteria") or []:
            if isinstance(criterion, dict) and "visit" in criterion:
                criterion["visit"] = _label_text(criterion["visit"])
    return config


def validate_config(config: dict, source="config", base_dir=None) -> dict:
    """Validate a config (dict) against the schema, fill defaults and check consistency.

    ``base_dir`` is the folder relative paths are read from: the config file's folder when the
    config came from a file (:func:`load_config`), else the working directory.
    Returns a new dict; raises :class:`InputError` naming the key and the fix.
    """
    schema = config_schema()
    config = copy.deepcopy(config)
    labels_as_text(config)
    if base_dir is not None:
        resolve_paths(config, base_dir)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        raise _schema_error(errors[0], source, schema)
    _fill_defaults(config, schema)
    if config["trial"]["design"] == "crossover":
        return _check_crossover(config, source)
    arms, visits, outcomes = config["arms"], config["visits"], config["outcomes"]
    _check_arms(arms, source)
    order = visits["order"]
    raw = config["analysis"]["response"] == "raw"
    _check_baseline_column(config, source)
    if "baseline" not in visits and not raw and not baseline_from_column(config):
        raise InputError("visits.baseline is missing", file=source,
                         fix="name the baseline visit, give the baseline score as a column (outcomes[].baseline_column), "
                             "or set analysis.response: raw to model scores without it")
    if "baseline" in visits and (visits["baseline"] not in order or order[0] != visits["baseline"]):
        raise InputError(f"visits.baseline {visits['baseline']!r} must be the first entry of visits.order {order}",
                         file=source, fix=_label_mismatch_fix([visits["baseline"]], order, "visits.baseline",
                                                              "list the baseline visit first in visits.order"))
    post = order[1:] if "baseline" in visits else order
    visits.setdefault("key", list(post))
    unknown_key = [v for v in visits["key"] if v not in post]
    if unknown_key:
        raise InputError(f"visits.key {unknown_key} are not post-baseline visits of visits.order {order}",
                         file=source, fix=_label_mismatch_fix(unknown_key, order, "visits.key",
                                                              "choose key visits from visits.order (not the baseline)"))
    for label in visits.get("windows", {}):
        if label not in order:
            raise InputError(f"visits.windows names {label!r}, which is not in visits.order {order}",
                             file=source, fix=_label_mismatch_fix([label], order, "visits.windows",
                                                                  "name windows after the visits in visits.order"))
    if raw and config["analysis"].get("baseline_by_visit", False):
        raise InputError("analysis.baseline_by_visit needs a baseline in the model, but analysis.response is raw",
                         file=source, fix="remove analysis.baseline_by_visit or set analysis.response: change")
    if visits.get("windows") and not config["columns"].get("day"):
        raise InputError("visits.windows needs columns.day (the study-day column)", file=source,
                         fix="add columns.day or remove visits.windows")
    _check_layout(config, source)
    names = [o["name"] for o in outcomes]
    if len(set(names)) != len(names):
        raise InputError(f"outcome names repeat: {names}", file=source, fix="give each outcome its own name")
    _check_file_names(names, source)
    n_primary = sum(bool(o.get("primary")) for o in outcomes)
    if n_primary > 1:
        raise InputError(f"{n_primary} outcomes are marked primary", file=source,
                         fix="mark exactly one outcome primary: true")
    if n_primary == 0:
        outcomes[0]["primary"] = True
    for o in outcomes:
        rng = o.get("range")
        if rng and None not in rng and rng[0] >= rng[1]:
            raise InputError(f"outcome {o['name']!r} has range {rng} with min >= max", file=source,
                             fix="write the range as [min, max]")
    config.setdefault("trial", {}).setdefault("title", config["trial"]["name"])
    return config


def _check_arms(arms: dict, source) -> None:
    """Exactly one of ``treatment`` (two arms) and ``treatments`` (a list); distinct labels.
    ``treatments: [x]`` is the same trial as ``treatment: x``."""
    if ("treatment" in arms) == ("treatments" in arms):
        found = "both" if "treatment" in arms else "neither"
        raise InputError(f"arms has {found} of treatment and treatments", file=source,
                         fix="write arms: {reference: A, treatment: B} for two arms, or "
                             "arms: {reference: A, treatments: [B, C]} for three or more")
    if "treatment" in arms:
        if arms["reference"] == arms["treatment"]:
            raise InputError(f"arms.reference and arms.treatment are both {arms['reference']!r}", file=source,
                             fix="name two different arms")
    elif arms["reference"] in arms["treatments"]:
        raise InputError(f"arms.reference {arms['reference']!r} is also in arms.treatments", file=source,
                         fix="name the reference arm once and every treatment arm once")


def _check_crossover(config: dict, source) -> dict:
    """A two-period crossover: sequences use both arms in opposite orders (checked by
    :func:`pilottrial.models.crossover.crossover_settings`); one primary outcome."""
    from pilottrial.models.crossover import crossover_settings

    if "treatments" in config["arms"]:
        raise InputError("a two-period crossover compares two arms: arms.treatments is for parallel trials",
                         file=source, fix="write arms: {reference: A, treatment: B}")
    _check_arms(config["arms"], source)
    try:
        crossover_settings(config)
    except InputError as error:
        error.file = str(source)
        raise InputError(error.problem, file=source, fix=error.fix) from None
    outcomes = config["outcomes"]
    if sum(bool(o.get("primary")) for o in outcomes) > 1:
        raise InputError("more than one outcome is marked primary", file=source,
                         fix="mark exactly one outcome primary: true")
    if not any(o.get("primary") for o in outcomes):
        outcomes[0]["primary"] = True
    config["trial"].setdefault("title", config["trial"]["name"])
    return config


def _check_file_names(names, source) -> None:
    """Outcome names become file names (:func:`pilottrial.registry.outcome_slug`): two names that
    differ only by case or punctuation ('CAPS-5', 'caps 5') would write the same figures."""
    from pilottrial.registry import outcome_slug

    seen = {}
    for name in names:
        slug = outcome_slug(name)
        if slug in seen:
            raise InputError(f"outcomes {seen[slug]!r} and {name!r} differ only by case or punctuation, so their "
                             f"figures would share the file name {slug!r}", file=source, column="outcomes[].name",
                             fix="give the outcomes names that differ in their letters or digits")
        seen[slug] = name


def _check_layout(config: dict, source) -> None:
    """Each layout names its outcomes its own way: column (long), columns (wide), paramcd (adam)."""
    layout = config["data"]["layout"]
    key = {"long": "column", "wide": "columns", "adam": "paramcd"}[layout]
    for i, outcome in enumerate(config["outcomes"]):
        if key not in outcome:
            example = {"column": "caps5", "columns": "{baseline: caps_v1, 30d: caps_v4}", "paramcd": "CAPS5"}[key]
            raise InputError(f"outcomes[{i}] ({outcome['name']}) has no '{key}', which the {layout} layout needs",
                             file=source, fix=f"add {key}: {example}")
        if layout == "wide":
            order = config["visits"]["order"]
            unknown = [v for v in outcome["columns"] if v not in order]
            if unknown:
                raise InputError(f"outcomes[{i}].columns names visits {unknown} not in visits.order",
                                 file=source, fix=_label_mismatch_fix(unknown, order, f"outcomes[{i}].columns",
                                                                      "map only the visits listed in visits.order"))
    if layout == "adam":
        config["columns"].setdefault("visit", "AVISIT")
    elif layout == "long" and "visit" not in config["columns"]:
        raise InputError("columns.visit is missing", file=source, fix="name the column holding the visit label")
    if layout == "wide" and config["visits"].get("windows"):
        raise InputError("visits.windows applies to long data with a study-day column, not to the wide layout",
                         file=source, fix="remove visits.windows")


def _check_baseline_column(config: dict, source) -> None:
    """The baseline of a parallel trial is a visit (``visits.baseline``) or a column of the
    post-baseline rows (``outcomes[].baseline_column``), never both; as a column, every outcome
    of a change analysis names one and ``visits.order`` lists post-baseline visits only."""
    with_column = [o["name"] for o in config["outcomes"] if o.get("baseline_column")]
    if not with_column:
        return
    visits = config["visits"]
    if visits.get("baseline") is not None:
        raise InputError(f"the baseline is given twice: as the visit {visits['baseline']!r} (visits.baseline) and as "
                         f"a column (outcomes[].baseline_column of {with_column})", file=source,
                         column="outcomes[].baseline_column",
                         fix="keep visits.baseline when the data have baseline rows, else remove it and list only "
                             "post-baseline visits in visits.order")
    if BASELINE_VISIT in visits["order"]:
        raise InputError(f"visits.order lists {BASELINE_VISIT!r} although the baseline is a column "
                         f"(outcomes[].baseline_column)", file=source, column="visits.order",
                         fix=f"list only the post-baseline visits in visits.order (the baseline becomes the visit "
                             f"{BASELINE_VISIT!r}), or name it visits.baseline and drop baseline_column")
    without = [o["name"] for o in config["outcomes"] if not o.get("baseline_column")]
    if without and config["analysis"]["response"] != "raw":
        raise InputError(f"outcome(s) {without} have no baseline_column while {with_column} give the baseline as a "
                         f"column: their change from baseline cannot be computed", file=source,
                         column="outcomes[].baseline_column",
                         fix="name the baseline column of every outcome (outcomes[].baseline_column)")


def load_config(path) -> dict:
    """Read a YAML config file and validate it (see :func:`validate_config`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", file=path,
                         fix="check the path given to --configfile or --config trials=")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        rows = [mark.line + 1] if mark else None
        raise InputError(f"not valid YAML ({getattr(exc, 'problem', exc)})", file=path, rows=rows,
                         fix="correct the YAML syntax") from None
    if not isinstance(config, dict):
        raise InputError("the config must be a mapping of keys", file=path, fix="see config/config.yaml")
    return validate_config(config, source=path, base_dir=path.parent)
