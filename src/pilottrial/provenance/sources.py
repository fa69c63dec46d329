"""Which library files a script uses: the static import graph of ``pilottrial`` modules.

The workflow declares, for each rule, the library files its script imports (directly or through
other library modules), so that a change in one analysis reruns the rules that use it and no
others. Imports are read from the source with :mod:`ast` (nothing is imported or run; only the
import statements are parsed); imports inside functions count too, and a package that imports
its names lazily (``importlib.import_module`` or :func:`pilottrial.lazy_names` in its
``__init__``) counts as importing all its modules.

Every workflow start asks this for every rule, so the imports found in a file are remembered in
``.snakemake/pilottrial-imports.json`` (when that folder exists: in a workflow's working
directory) under the file's path, size and modification time; a changed file is read again.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from pathlib import Path

__all__ = ["library_sources", "module_file"]

PACKAGE = "pilottrial"
ROOT = Path(__file__).resolve().parents[1]  # src/pilottrial
#: Data files read by the library at run time, declared with the modules that read them.
DATA_FILES = {
    "pilottrial.config.load": ["config/config.schema.yaml"],
    "pilottrial.report.document": [f"report/templates/{p.name}" for p in sorted((ROOT / "report" / "templates").glob("*.html"))],
}


@functools.cache
def module_file(name: str) -> Path | None:
    """The source file of a dotted ``pilottrial`` module name, or None (remembered for the
    process: a workflow start asks for the same modules once per rule)."""
    parts = name.split(".")[1:]
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: The remembered imports of each file: {path: [size, mtime_ns, imports]} (see the module docstring).
IMPORTS_CACHE = Path(".snakemake") / "pilottrial-imports.json"
_remembered: dict | None = None
_changed = False


def _cached_imports(path: Path) -> tuple:
    """:func:`_imports`, remembered across processes by the file's size and modification time."""
    global _remembered, _changed
    if _remembered is None:
        try:
            _remembered = json.loads(IMPORTS_CACHE.read_text(encoding="utf-8")) if IMPORTS_CACHE.is_file() else {}
        except (OSError, ValueError):
            _remembered = {}
    stat = path.stat()
    key, stamp = str(path), [stat.st_size, stat.st_mtime_ns]
    entry = _remembered.get(key)
    if entry is not None and entry[:2] == stamp:
        return tuple(entry[2])
    found = _imports(path)
    _remembered[key] = [*stamp, list(found)]
    _changed = True
    return found


def _remember() -> None:
    """Write the remembered imports when some were read now (atomically; only inside a workflow's folder)."""
    global _changed
    if not _changed or not IMPORTS_CACHE.parent.is_dir():
        return
    tmp = IMPORTS_CACHE.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(_remembered, sort_keys=True), encoding="utf-8")
        tmp.replace(IMPORTS_CACHE)
        _changed = False
    except OSError:
        tmp.unlink(missing_ok=True)


#: A package whose names load on first use: ``__getattr__, __dir__ = lazy_names(__name__, ...)``.
_LAZY_NAMES = re.compile(r"^__getattr__, __dir__ = lazy_names\(", re.M)
#: The lines that can start an import statement (at any indentation); only those are parsed.
_IMPORT_LINE = re.compile(r"^[ \t]*(?:import|from)[ \t]")


def _import_statements(source: str):
    """The import statements of a module's source as separate small parse trees.

    Parsing only the lines that start with ``import`` or ``from`` (with their continuation lines:
    open parentheses, trailing backslashes) finds the same imports as parsing the whole module,
    several times faster. A line in a docstring that merely starts with "from" does not parse as
    an import and is skipped; one that does parse (an import in an example) counts, which can
    only add a file to a rule's inputs."""
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        if not _IMPORT_LINE.match(lines[i]):
            i += 1
            continue
        statement = [lines[i].strip()]
        depth = statement[0].count("(") - statement[0].count(")")
        while (depth > 0 or statement[-1].endswith("\\")) and i + 1 < len(lines):
            i += 1
            statement.append(lines[i].strip())
            depth += lines[i].count("(") - lines[i].count(")")
        i += 1
        try:
            yield ast.parse("\n".join(statement))
        except SyntaxError:
            continue


def _imports(path: Path) -> tuple:
    """Dotted ``pilottrial`` modules imported by a file (``from a.b import c`` counts a.b and a.b.c)."""
    source = path.read_text(encoding="utf-8")
    is_package = path.name == "__init__.py"
    here = _module_name(path) if path.is_relative_to(ROOT) else ""
    found = set()
    for tree in _import_statements(source):
        for node in tree.body:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".") if is_package else here.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                if base.split(".")[0] != PACKAGE:
                    continue
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
    if is_package and ("importlib.import_module(" in source or _LAZY_NAMES.search(source)):
        # a package that imports its names on first use (module __getattr__): any of its modules
        found.update(f"{here}.{p.stem}" for p in path.parent.glob("*.py") if p.name != "__init__.py")
    return tuple(sorted(found))


def library_sources(script, relative_to=None) -> list:
    """Every library file a script imports, directly or indirectly, as sorted paths.

    Parameters
    ----------
    script : path of a Python file (a workflow script or a library module).
    relative_to : folder the returned paths are relative to (default: absolute paths).

    Parent packages (their ``__init__.py``) are included, since importing ``a.b.c`` runs
    ``a/__init__.py`` and ``a/b/__init__.py``; so are the data files in :data:`DATA_FILES`.
    """
    seen: set = set()
    files: set = set()
    todo = [Path(script).resolve()]
    while todo:
        path = todo.pop()
        for name in _cached_imports(path):
            parts = name.split(".")
            for k in range(1, len(parts) + 1):
                mod = ".".join(parts[:k])
                if mod in seen:
                    continue
                seen.add(mod)
                file = module_file(mod)
                if file is not None:
                    files.add(file)
                    todo.append(file)
                    files.update(ROOT / d for d in DATA_FILES.get(mod, []))
    _remember()
    out = sorted(files)
    if relative_to is not None:
        base = Path(relative_to).resolve()
        out = [p.relative_to(base) if p.is_relative_to(base) else p for p in out]
    return [str(p) for p in out]
