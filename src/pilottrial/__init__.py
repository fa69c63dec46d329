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

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("pilottrial")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
