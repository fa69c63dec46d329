"""pilottrial.provenance.sources: the library files a workflow script imports, and the imports
remembered across workflow starts."""

import json
import os

import pytest

import pilottrial.provenance.sources as sources
from pilottrial.provenance.sources import library_sources


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A workflow folder (with .snakemake/) as the working directory and an empty memory."""
    (tmp_path / ".snakemake").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sources, "_remembered", None)
    monkeypatch.setattr(sources, "_changed", False)
    return tmp_path / ".snakemake" / "pilottrial-imports.json"


def _names(files):
    return {os.path.basename(f) for f in files}


def test_imports_inside_functions_and_of_lazy_packages_count(tmp_path, fresh_cache):
    script = tmp_path / "rule.py"
    script.write_text("def main():\n    from pilottrial.data.table import read_table\n", encoding="utf-8")
    files = library_sources(script)
    assert {"table.py", "__init__.py"} <= _names(files)
    # pilottrial.data loads its modules on first use: all of them count
    assert {"checks.py", "layouts.py", "readers.py"} <= _names(files)


def test_remembered_imports_are_written_and_reused(tmp_path, fresh_cache):
    script = tmp_path / "rule.py"
    script.write_text("from pilottrial.errors import InputError\n", encoding="utf-8")
    first = library_sources(script)
    remembered = json.loads(fresh_cache.read_text(encoding="utf-8"))
    assert remembered[str(script)][2] == ["pilottrial.errors", "pilottrial.errors.InputError"]
    # a new process: reads the memory instead of parsing (a poisoned entry with the same stamp shows it)
    stat = script.stat()
    remembered[str(script)] = [stat.st_size, stat.st_mtime_ns, ["pilottrial.registry"]]
    fresh_cache.write_text(json.dumps(remembered), encoding="utf-8")
    sources._remembered = None
    assert "registry.py" in _names(library_sources(script))
    assert "errors.py" in _names(first)


def test_a_changed_file_is_read_again(tmp_path, fresh_cache):
    script = tmp_path / "rule.py"
    script.write_text("from pilottrial.errors import InputError\n", encoding="utf-8")
    assert "registry.py" not in _names(library_sources(script))
    script.write_text("from pilottrial.errors import InputError\nimport pilottrial.registry\n", encoding="utf-8")
    assert "registry.py" in _names(library_sources(script))
    assert "pilottrial.registry" in json.loads(fresh_cache.read_text(encoding="utf-8"))[str(script)][2]


def test_no_memory_is_written_outside_a_workflow_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sources, "_remembered", None)
    monkeypatch.setattr(sources, "_changed", False)
    script = tmp_path / "rule.py"
    script.write_text("import pilottrial.errors\n", encoding="utf-8")
    assert "errors.py" in _names(library_sources(script))
    assert not (tmp_path / ".snakemake").exists()
