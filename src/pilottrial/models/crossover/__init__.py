r"""The two-period, two-treatment (2x2) crossover trial: analysis table, mixed model, carry-over.

Each participant is randomized to a sequence (for example ``KM``: ketamine in period 1,
midazolam in period 2; ``MK``: the reverse) and is rated before each period's treatment (the
period baseline) and at one timepoint after it. The analysis variable is the change from the
period baseline, :math:`y_{ip} = \text{score}_{ip} - \text{baseline}_{ip}`.

Primary model (:func:`crossover_contrasts`), a linear mixed model with a random participant
intercept, fitted by REML:

.. math::
    y_{ip} = \mu + \tau\,[\text{treatment}_{ip} = T] + \pi\,[p = 2] + \gamma\,[\text{sequence}_i = 2]
             + \beta\,\text{baseline}_{ip} + u_i + \varepsilon_{ip},
    \quad u_i \sim N(0, \sigma_u^2),\ \varepsilon_{ip} \sim N(0, \sigma^2),

the sequence and period-baseline terms being optional (``crossover.adjust_sequence``,
``crossover.adjust_period_baseline``), fitted by REML with :math:`\sigma_u^2 \ge 0` as lme4
(:func:`pilottrial.models.mmrm.fit_random_intercept`, the period as the within-participant
index; a variance at 0 is kept as a noted singular fit). The marginal covariance of a
participant's two rows is compound symmetry, :math:`V_i = \sigma_u^2 J + \sigma^2 I`, so the
small-sample inference of the MMRM engine applies: fixed-effect covariance
:math:`(X'V^{-1}X)^{-1}` with Satterthwaite degrees of freedom, or the Kenward-Roger adjusted
covariance and df (with :math:`W` from the expected information, as Kenward & Roger 1997 and
R pbkrtest; the observed information, as SAS, on request). Participants with one period
contribute to the between-participant information. The treatment effect :math:`\tau` is
treatment minus reference.

Carry-over (:func:`carryover_test`): the Grizzle (1965) / Hills & Armitage (1979) test compares
participant totals :math:`y_{i1} + y_{i2}` between the sequences. It is a between-participant
comparison with low power, and the two-stage procedure that lets it choose between the
crossover and the first-period analysis inflates the type I error (Freeman 1989); it is
reported for information only and never decides the analysis (Senn 2002, ch. 3).

References
----------
Grizzle JE (1965). The two-period change-over design and its use in clinical trials.
Biometrics 21:467-480.
Hills M, Armitage P (1979). The two-period cross-over clinical trial. Br J Clin Pharmacol
8:7-20.
Freeman PR (1989). The performance of the two-stage analysis of two-treatment, two-period
crossover trials. Stat Med 8:1421-1432.
Senn S (2002). Cross-over Trials in Clinical Research, 2nd ed. Wiley.
Kenward MG, Jones B (2014). Design and Analysis of Cross-Over Trials, 3rd ed. CRC Press.
Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum
likelihood. Biometrics 53:983-997.
"""

from pilottrial.models.crossover.carryover import CARRYOVER_COLUMNS, carryover_test
from pilottrial.models.crossover.descriptives import DESCRIPTIVE_COLUMNS, crossover_descriptives
from pilottrial.models.crossover.mixed_model import (
    CONTRAST_COLUMNS,
    MODEL_NAME,
    crossover_contrasts,
    crossover_formula,
    crossover_models,
    fit_crossover_lmm,
)
from pilottrial.models.crossover.settings import crossover_settings
from pilottrial.models.crossover.table import TABLE_COLUMNS, crossover_table

__all__ = [
    "crossover_settings",
    "crossover_table",
    "crossover_formula",
    "fit_crossover_lmm",
    "crossover_contrasts",
    "crossover_models",
    "carryover_test",
    "crossover_descriptives",
    "TABLE_COLUMNS",
    "CONTRAST_COLUMNS",
    "CARRYOVER_COLUMNS",
    "DESCRIPTIVE_COLUMNS",
    "MODEL_NAME",
]
