"""pilottrial: validated statistics, figures and a reproducible report for small randomized pilot trials.

The library is organised by concept:

- :mod:`pilottrial.config` -- the config schema, loading and validation, the typed :class:`~pilottrial.config.Trial`;
- :mod:`pilottrial.data` -- file readers, layouts, input checks and the tidy analysis table;
- :mod:`pilottrial.models` -- the MMRM engine, the random-intercept LMM, primary contrasts, crossover models;
- :mod:`pilottrial.analyses` -- effect sizes, multiplicity, responders, Bayesian reading, sensitivity,
  missing data, harms, feasibility, mechanism, estimands;
- :mod:`pilottrial.planning` -- power and sample size for the definitive trial;
- :mod:`pilottrial.report` -- figures, the report document, PDF and index page;
- :mod:`pilottrial.demo` -- the synthetic demo trials;
- :mod:`pilottrial.provenance` -- checksums, manifest, verification, input checks;
- :mod:`pilottrial.registry` -- the names of every output; :mod:`pilottrial.errors` -- errors for people.

Importing the package imports none of its subpackages (and never sets a matplotlib backend).
"""

import sys as _sys
from importlib import import_module as _import_module
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("pilottrial")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "lazy_names"]


def lazy_names(package: str, modules: dict):
    """``__getattr__`` and ``__dir__`` of a package whose public names are imported on first use
    (PEP 562): ``modules`` maps each module of the package to the names it defines.

    A job that uses one part of a package then does not pay for the imports of the others
    (:mod:`pilottrial.provenance.sources` counts such a package as importing all its modules).
    Use: ``__getattr__, __dir__ = lazy_names(__name__, {"fit": ["fit_mmrm"], ...})``.
    """
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name):
        if name in home:
            return getattr(_import_module(f"{package}.{home[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(list(vars(_sys.modules[package])) + list(home))

    return __getattr__, __dir__
