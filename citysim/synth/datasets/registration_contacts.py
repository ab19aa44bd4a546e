"""HPD Registration Contacts (feu5-w2e2): the owner, agent and managers of each registration; contact ids are the
registration id followed by a two-digit sequence, as in the real data. Cities are misspelled now and then."""

from __future__ import annotations

from collections.abc import Iterator

from citysim.synth.context import Batch

DATASET_ID = "feu5-w2e2"
_FIRST = ("GEORGE", "MARIA", "JOSE", "ANNA", "DAVID", "YAN", "SARAH", "MOSHE", "AISHA", "KEVIN")
_LAST = ("RIGAS", "RODRIGUEZ", "COHEN", "CHEN", "SMITH", "KHAN", "GOLDBERG", "NGUYEN", "PATEL", "OKAFOR")
_CITIES = ("BROOKLYN", "BROKLYN", "BKLYN", "NEW YORK", "BRONX", "FLUSHING", "GREAT NECK", "STATEN ISLAND")
_FORMS = ("CORP", "LLC", "INDIV", "JOINT", "CO-OP", "CONDO")


def rows(batch: Batch, as_of: int) -> Iterator[dict[str, str]]:
    s, bl = batch.s, batch.bldgs
    for b in range(len(bl)):
        reg = int(bl.registration_id[b])
        if reg == 0:
            continue
        h = reg * 2654435761 % 2**32  # a stable per-registration hash for the choices below
        form = _FORMS[h % len(_FORMS)]
        corp = f"{s.street[b].split(' ')[0]} {s.house[b]} {'LLC' if form == 'LLC' else 'REALTY CORP'}"
        owner_type = "IndividualOwner" if form == "INDIV" else "JointOwner" if form == "JOINT" else "CorporateOwner"
        types = [owner_type, "Agent", "HeadOfficer", "SiteManager"][: 2 + h % 3]
        for k, typ in enumerate(types):
            person = typ != "CorporateOwner"
            row = {
                "registrationcontactid": f"{reg}{k + 1:02d}",
                "registrationid": str(reg),
                "type": typ,
                "contactdescription": form,
                "corporationname": corp if typ in ("CorporateOwner", "Agent") else None,
                "title": "MANAGING AGENT" if typ == "Agent" else None,
                "firstname": _FIRST[(h >> (k + 3)) % len(_FIRST)] if person else None,
                "lastname": _LAST[(h >> (k + 7)) % len(_LAST)] if person else None,
                "businesshousenumber": s.house[b] if k == 0 else str(1 + (h >> k) % 900),
                "businessstreetname": s.street[b],
                "businesscity": _CITIES[(h >> (2 * k)) % len(_CITIES)],
                "businessstate": "NY",
                "businesszip": s.zip[b],
            }
            yield {key: v for key, v in row.items() if v is not None}
