"""Common rating scales: their total-score range, direction of improvement and source.

``pilottrial init`` recognises an outcome column by its name (:func:`find_instrument`) and writes
the scale's range (so that a mistyped score stops the run) and direction (``better``). Ranges are
those of the total score as published; a trial that uses a subscale or another version must
correct them (the draft marks them as guesses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Instrument", "INSTRUMENTS", "find_instrument", "normalize_name"]


@dataclass(frozen=True)
class Instrument:
    """A rating scale: ``name`` (as reports write it), ``pattern`` (regular expression matched
    at the start of a normalized column name, :func:`normalize_name`), total-score ``range``,
    ``better`` (``lower`` or ``higher``) and ``source`` (the publication of the scale)."""

    name: str
    pattern: str
    range: tuple
    better: str
    source: str


INSTRUMENTS = (
    Instrument("CAPS-5", r"caps5?", (0, 80), "lower", "Weathers et al. 2018, Psychol Assess 30:383"),
    Instrument("PCL-5", r"pcl5", (0, 80), "lower", "Blevins et al. 2015, J Trauma Stress 28:489"),
    Instrument("IES-R", r"iesr", (0, 88), "lower", "Weiss & Marmar 1997, Assessing psychological trauma and PTSD"),
    Instrument("MADRS", r"madrs", (0, 60), "lower", "Montgomery & Asberg 1979, Br J Psychiatry 134:382"),
    Instrument("HAM-D17", r"(hamd|hdrs|hrsd)(17)?(?!\d)", (0, 52), "lower", "Hamilton 1960, J Neurol Neurosurg Psychiatry 23:56"),
    Instrument("HAM-A", r"(hama|hars)(?!\d)", (0, 56), "lower", "Hamilton 1959, Br J Med Psychol 32:50"),
    Instrument("BDI-II", r"bdi(2|ii)?", (0, 63), "lower", "Beck, Steer & Brown 1996, BDI-II manual"),
    Instrument("QIDS-SR", r"qids(sr)?(16)?", (0, 27), "lower", "Rush et al. 2003, Biol Psychiatry 54:573"),
    Instrument("PHQ-9", r"phq9", (0, 27), "lower", "Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606"),
    Instrument("GAD-7", r"gad7", (0, 21), "lower", "Spitzer et al. 2006, Arch Intern Med 166:1092"),
    Instrument("CADSS", r"cadss", (0, 92), "lower", "Bremner et al. 1998, J Trauma Stress 11:125 (23 items, 0-4)"),
    Instrument("YMRS", r"ymrs", (0, 60), "lower", "Young et al. 1978, Br J Psychiatry 133:429"),
    Instrument("PANSS", r"panss", (30, 210), "lower", "Kay, Fiszbein & Opler 1987, Schizophr Bull 13:261"),
    Instrument("BPRS", r"bprs", (18, 126), "lower", "Overall & Gorham 1962, Psychol Rep 10:799 (18 items, 1-7)"),
    Instrument("CGI-S", r"cgis", (1, 7), "lower", "Guy 1976, ECDEU Assessment Manual"),
    Instrument("CGI-I", r"cgii", (1, 7), "lower", "Guy 1976, ECDEU Assessment Manual"),
    Instrument("AUDIT", r"audit", (0, 40), "lower", "Saunders et al. 1993, Addiction 88:791"),
    Instrument("ISI", r"isi(?![a-z])", (0, 28), "lower", "Bastien, Vallieres & Morin 2001, Sleep Med 2:297"),
    Instrument("PSS-10", r"pss(10)?(?![a-z])", (0, 40), "lower", "Cohen, Kamarck & Mermelstein 1983, J Health Soc Behav 24:385"),
    Instrument("HADS", r"hads(?![ad])", (0, 42), "lower", "Zigmond & Snaith 1983, Acta Psychiatr Scand 67:361"),
    Instrument("K10", r"k10", (10, 50), "lower", "Kessler et al. 2002, Psychol Med 32:959"),
    Instrument("WHO-5", r"who5", (0, 25), "higher", "Topp et al. 2015, Psychother Psychosom 84:167 (raw score)"),
    Instrument("MoCA", r"moca", (0, 30), "higher", "Nasreddine et al. 2005, J Am Geriatr Soc 53:695"),
    Instrument("MMSE", r"mmse", (0, 30), "higher", "Folstein, Folstein & McHugh 1975, J Psychiatr Res 12:189"),
)


def normalize_name(name: str) -> str:
    """A column name in lower case, letters and digits only: ``"HAM-D_17 total"`` -> ``"hamd17total"``.

    Examples
    --------
    >>> normalize_name("IES_R_24h"), normalize_name("BDI-II")
    ('iesr24h', 'bdiii')
    """
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_instrument(name: str) -> Instrument | None:
    """The instrument a column name starts with, or None.

    Examples
    --------
    >>> find_instrument("MADRS_TOTAL").range, find_instrument("caps5").better
    ((0, 60), 'lower')
    >>> find_instrument("hamd17").name, find_instrument("phq9_w4").range, find_instrument("visit")
    ('HAM-D17', (0, 27), None)
    """
    text = normalize_name(name)
    for instrument in INSTRUMENTS:
        if re.match(instrument.pattern, text):
            return instrument
    return None
