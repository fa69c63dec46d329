"""The synthetic demo trials bundled in ``data/``: a parallel-group pilot, a three-arm
dose-ranging pilot and a 2x2 crossover.

* :mod:`~pilottrial.demo.parallel` -- ketamine vs midazolam in PTSD, four visits
  (:func:`simulate_demo`, :func:`write_demo`; ``python -m pilottrial.demo.parallel data/demo/``),
  with its true values in :mod:`~pilottrial.demo.parameters`, its participants and scores in
  :mod:`~pilottrial.demo.participants`, imaging, adverse events, dissociation and the screening
  log in :mod:`~pilottrial.demo.extras`;
* :mod:`~pilottrial.demo.dose_ranging` -- the three-arm dose-ranging demo (midazolam, ketamine 0.2
  and 0.5 mg/kg; :func:`simulate_dose_ranging`; ``python -m pilottrial.demo.dose_ranging data/demo/``);
* :mod:`~pilottrial.demo.crossover` -- the two-period crossover (:func:`simulate_crossover_demo`;
  ``python -m pilottrial.demo.crossover <file.csv>``).

The functions are imported on first use, so that ``python -m pilottrial.demo.parallel`` runs
its module once (the package does not import it beforehand).
"""

from importlib import import_module

__all__ = ["simulate_demo", "simulate_demo_trial", "write_demo", "write_demo_trial", "true_effects",
           "true_mechanism_effects", "simulate_crossover_demo", "write_crossover_demo", "crossover_true_values",
           "simulate_dose_ranging", "write_dose_ranging", "true_dose_effects"]

_HOMES = {"simulate_demo": "parallel", "simulate_demo_trial": "parallel", "write_demo": "parallel",
          "write_demo_trial": "parallel", "true_effects": "parameters", "true_mechanism_effects": "parameters",
          "simulate_crossover_demo": "crossover", "write_crossover_demo": "crossover",
          "crossover_true_values": "crossover", "simulate_dose_ranging": "dose_ranging",
          "write_dose_ranging": "dose_ranging", "true_dose_effects": "dose_ranging"}


def __getattr__(name):
    if name in _HOMES:
        return getattr(import_module(f"pilottrial.demo.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'pilottrial.demo' has no attribute {name!r}")
