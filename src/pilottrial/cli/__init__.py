"""The ``pilottrial`` command: from a trial's data file to a running analysis.

* ``pilottrial init DATA [--out trial.yaml]`` -- reads the file, guesses its layout, columns,
  arms, visit order and outcomes (:mod:`~pilottrial.cli.guess`; the reference arm and the
  treatments' order from :mod:`~pilottrial.cli.arms`, the visit order from
  :mod:`~pilottrial.cli.visits`, ranges and directions from :mod:`~pilottrial.cli.instruments`)
  and writes a commented config (:mod:`~pilottrial.cli.draft`);
* ``pilottrial check trial.yaml`` -- the pipeline's config and data checks, then a summary
  (:mod:`~pilottrial.cli.check`);
* ``pilottrial run trial.yaml [--cores N]`` and ``pilottrial verify trial.yaml`` -- the workflow
  for that trial, in the trial's own folder (:mod:`~pilottrial.cli.run`).

The entry point is :func:`pilottrial.cli.main.main` (also ``python -m pilottrial``). Nothing is
imported here, so that the command starts quickly.
"""
