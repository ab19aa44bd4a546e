"""HPD Registration Contacts (feu5-w2e2) -> registration_contacts.

No BIN/BBL: a contact reaches its building through registration_id. `contactdescription` is the ownership
form of the whole registration (CORP, LLC, CONDO...), repeated on every contact. Business cities are
misspelled freely ("BROKLYN", "BKLYN"): kept as written inside business_address.
"""

from __future__ import annotations

from typing import Any

from sentinel.normalize.hashing import content_hash
from sentinel.normalize.outcome import RejectRecord
from sentinel.numbers import to_int
from sentinel.records import ContactRow
from sentinel.text import clean, clean_spaces


def _address(g: Any) -> str | None:
    street = " ".join(p for p in (clean(g("businesshousenumber")), clean_spaces(g("businessstreetname"))) if p)
    apartment = clean(g("businessapartment"))
    if street and apartment:
        street = f"{street} {apartment}"
    state_zip = " ".join(p for p in (clean(g("businessstate")), clean(g("businesszip"))) if p)
    parts = [p for p in (street, clean_spaces(g("businesscity")), state_zip) if p]
    return ", ".join(parts) or None


def normalize(raw: dict[str, Any]) -> ContactRow:
    warnings: list[str] = []
    g = raw.get
    contact_id = to_int(g("registrationcontactid"), "registrationcontactid", warnings)
    if contact_id is None:
        raise RejectRecord(f"missing or malformed registrationcontactid {g('registrationcontactid')!r}")
    registration_id = to_int(g("registrationid"), "registrationid", warnings)
    if registration_id is None:
        raise RejectRecord(f"missing or malformed registrationid {g('registrationid')!r}")
    return ContactRow(
        contact_id=contact_id,
        registration_id=registration_id,
        contact_type=clean(g("type")),
        ownership_form=clean(g("contactdescription")),
        corporation_name=clean_spaces(g("corporationname")),
        first_name=clean(g("firstname")),
        last_name=clean(g("lastname")),
        business_address=_address(g),
        raw=raw,
        content_hash=content_hash(raw),
        warnings=warnings,
    )
