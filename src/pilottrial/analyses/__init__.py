"""The pilot-trial analyses beyond the primary models.

* :mod:`~pilottrial.analyses.effects` -- standardized effect sizes (Hedges' g);
* :mod:`~pilottrial.analyses.multiplicity` -- Holm adjustment of the secondary outcomes;
* :mod:`~pilottrial.analyses.responders` -- responders and remitters, risk difference, odds ratio, NNT;
* :mod:`~pilottrial.analyses.bayes` -- posterior probabilities of benefit (flat and sceptical priors);
* :mod:`~pilottrial.analyses.sensitivity` -- the treatment effect under other models and assumptions;
* :mod:`~pilottrial.analyses.missing` -- missingness, multiple imputation, tipping point;
* :mod:`~pilottrial.analyses.harms` -- adverse events and dissociation;
* :mod:`~pilottrial.analyses.feasibility` -- CONSORT pilot feasibility and progression criteria;
* :mod:`~pilottrial.analyses.mechanism` -- mechanism outcomes against the primary outcome;
* :mod:`~pilottrial.analyses.estimands` -- the ICH E9(R1) estimand table;
* :mod:`~pilottrial.analyses.nonparametric` -- the Hodges-Lehmann shift and the exact U distribution.

Statistical primitives take data and explicit arguments and return tidy tables (or numbers);
the table builders that take the config (a dict or a :class:`~pilottrial.config.Trial`,
:func:`pilottrial.analyses.common.as_trial`) are a thin layer on top, one per output table.
Importing this package imports none of its modules, so that a rule depends only on the
modules its script uses.
"""

__all__: list = []
