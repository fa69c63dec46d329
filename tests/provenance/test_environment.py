"""The pins in environment.yml (conda) are those of requirements.lock (make)."""

import re

import yaml
from conftest import REPO_ROOT


def lock_pins():
    pins = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def test_environment_yml_pins_agree_with_the_lock():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pinned = {}
    for spec in (p for p in pip if "==" in p):
        name, version = spec.split("==")
        pinned[name.lower().replace("_", "-")] = version
    assert pinned == lock_pins(), "environment.yml and requirements.lock differ: run tests/make_environment_yml.py"


def test_every_direct_dependency_is_pinned_in_the_lock():
    text = (REPO_ROOT / "pyproject.toml").read_text()
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    names = [re.split(r"[\[<>=]", n.strip().strip('",'))[0].lower() for n in block.splitlines() if n.strip().strip(",")]
    lock = lock_pins()
    missing = [n for n in names if n and n not in lock]
    assert not missing, f"not pinned in requirements.lock: {missing}"
