"""Synthetic NYC: a deterministic city whose buildings have a hidden condition and owner behaviour, and whose
complaints, inspections, violations and orders come out in exactly the real NYC Open Data API JSON formats.

Ray-free by design (never import ray here). See README.md beside this file for the file formats.
"""

from citysim.synth.changes import days_of_changes, write_changes
from citysim.synth.city import DATASET_IDS, City, CitySummary, write_city
from citysim.synth.config import SynthConfig
from citysim.synth.oracle import true_probability

__all__ = [
    "DATASET_IDS",
    "City",
    "CitySummary",
    "SynthConfig",
    "days_of_changes",
    "true_probability",
    "write_changes",
    "write_city",
]
