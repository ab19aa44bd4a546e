"""Severity of DOB violation type codes (BIS `violation_type_code` 3h2n-5cm9, `violation_type` 855j-jady).

Decision (from the code descriptions in NYC_DATA.md §3.3 and the 1000-row BIS sample): BIS violations are
mostly administrative (a missing boiler or elevator filing, a late facade report, benchmarking). Only codes
whose name says the building itself is dangerous are hazardous:
- immediately_hazardous: UB (unsafe building), IMEGNCY (immediate emergency).
- hazardous: EGNCY (emergency), AEUHAZ1 (failure to certify correction of a Class 1 condition),
  FISPHAZ (hazardous facade condition).
- non_hazardous: the filing/inspection/permit codes listed below.
- non_hazardous too: DOB NOW "FTC-..." codes (failure to file/comply, e.g. FTC-VT-CAT1-CO "Failure To File
  Cat1 Test Affirmation").
- unknown: any code not listed (a new code must be classified here, not guessed).
"""

from __future__ import annotations

IMMEDIATELY_HAZARDOUS = frozenset({"UB", "IMEGNCY"})
HAZARDOUS = frozenset({"EGNCY", "AEUHAZ1", "FISPHAZ"})
NON_HAZARDOUS = frozenset(
    {
        "E", "C", "P", "B", "Z", "ES", "CMQ",  # elevator, construction, plumbing, boiler...
        "LL6291", "LBLVIO", "HBLVIO",  # boiler inspection filings
        "ACC1", "EVCAT1", "VCAT1", "EVCAT5", "LL1081",  # elevator tests and affirmations
        "FISP", "FISPNRF", "FISPFCS", "LL1198", "L1198", "LL10/80", "LL1080",  # facade filing programs
        "LANDMK", "LANDMRK", "BENCH", "EGRADE", "EARCX", "LL2604S",  # landmarks, energy, sprinkler filings
    }
)  # fmt: skip


def dob_severity(code: str | None) -> str:
    if not code:
        return "unknown"
    code = code.upper()
    if code in IMMEDIATELY_HAZARDOUS:
        return "immediately_hazardous"
    if code in HAZARDOUS:
        return "hazardous"
    if code in NON_HAZARDOUS or code.startswith("FTC-"):
        return "non_hazardous"
    return "unknown"
