"""config/README.md documents every key of the config schema."""

from conftest import REPO_ROOT

from pilottrial.config.load import config_schema


def schema_keys(schema, prefix=""):
    for key, sub in (schema.get("properties") or {}).items():
        dotted = f"{prefix}{key}"
        yield dotted
        if sub.get("type") == "object":
            yield from schema_keys(sub, dotted + ".")
        elif sub.get("type") == "array" and isinstance(sub.get("items"), dict) and sub["items"].get("type") == "object":
            yield from schema_keys(sub["items"], dotted + "[].")


def test_every_schema_key_is_documented():
    readme = (REPO_ROOT / "config" / "README.md").read_text()
    schema = config_schema()
    undocumented = []
    for key in schema_keys(schema):
        top = key.split(".")[0]
        if key == top:  # section headings
            continue
        if f"`{key}" not in readme and not any(f"`{key}".startswith(f"`{d}") for d in ("outcomes[].estimand",
                                                                                       "feasibility.progression_criteria")):
            undocumented.append(key)
    assert not undocumented, f"keys not documented in config/README.md: {undocumented}"
