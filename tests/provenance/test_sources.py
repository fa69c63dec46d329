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


def _imports_by_full_parse(path):
    """The reference: every Import/ImportFrom node of the whole module's syntax tree."""
    import ast

    found = set()
    here = sources._module_name(path) if path.is_relative_to(sources.ROOT) else ""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "pilottrial")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] == "pilottrial":
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
    return found


def test_import_lines_find_what_a_full_parse_finds():
    repo = sources.ROOT.parents[1]
    files = sorted(sources.ROOT.rglob("*.py")) + sorted((repo / "scripts").glob("*.py"))
    assert len(files) > 100
    for path in files:
        found = set(sources._imports(path))
        lazy = {f for f in found - _imports_by_full_parse(path)
                if path.name == "__init__.py" and f.rsplit(".", 1)[0] == sources._module_name(path)}
        assert found - lazy == _imports_by_full_parse(path), path


def test_multi_line_imports_and_docstrings(tmp_path, fresh_cache):
    module = tmp_path / "rule.py"
    module.write_text(
        '"""Docstring.\n\nfrom the pilot, the plan\nimport time is short\n"""\n'
        "from pilottrial.data.table import (\n    read_table,\n    model_covariates,\n)\n"
        "def f():\n    import pilottrial.errors, \\\n        pilottrial.registry\n", encoding="utf-8")
    assert set(sources._imports(module)) == {
        "pilottrial.data.table", "pilottrial.data.table.read_table", "pilottrial.data.table.model_covariates",
        "pilottrial.errors", "pilottrial.registry"}
