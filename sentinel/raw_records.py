"""The source record a violation or complaint row written before migration 0033 keeps, packed: only what its
normalized columns do not already hold, compressed against a dictionary of the dataset's common values. Rows
written since keep their record in a page of records apart (sentinel/source_pages.py); `stored_record` reads
either, and `pack` stays as the format's writer, which its reader is tested against.

A row keeps its source record so it can be re-normalized (a fixed normalizer re-run over what was stored) and
audited. Kept as JSON beside the row it was three quarters of the violations table: its field names repeat in
every row, and its longest values (the description, the ids, the status text) are columns of the same row
(benchmarks/RESULTS.md, "Load efficiency against nycdb"). Packed, a record holds:

- its keys in their own order, as one bit mask over the dataset's field order when they follow it (its field
  names repeated in every row were a third of its bytes even deflated);
- the values that no column of the row holds verbatim, and the positions of those that one does (so a null of
  the source stays a null: only marked positions are filled back);
- as JSON, compressed with zstd against a preset dictionary of the dataset's common values (format 2; format
  1, raw deflate against the same dictionaries, is what rows written before it hold, and still reads).

A family is a table and a source (violations from HPD, complaints from 311...): each has its own fields held by
columns and may have its own field order and dictionary (complaints': sentinel/record_dictionaries.py). `pack`
ran in the normalizer where the row was made; `unpack` takes the stored bytes and the row's column values and
gives back the record as the source sent it (same keys, same order, same values); `stored_record` is how any
reader gets a stored row's record. The first two bytes are the
format and the dictionary, so a later format or dictionary reads older rows: a dictionary, once used, never
changes.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

import orjson
import zstandard

from sentinel import record_dictionaries as dictionaries
from sentinel.source_pages import PageReader

FORMAT = 2  # what `pack` writes: zstd
_DEFLATED = 1  # what rows packed before format 2 hold: raw deflate, 4 KB window (read only)
DEFLATE_WBITS = -12  # format 1's window (the benchmarks compare against it)
# zstd's fastest level: a record is a few hundred bytes, deflate's per-call setup and block flush cost more than
# the compression itself, and a higher level gains a few bytes a record (benchmarks/RESULTS.md, "Packing with zstd").
# Magicless frames with the content size and no checksum or dictionary id: the first two bytes already say
# which format and dictionary, and the stored row is checked by the database.
_ZSTD_LEVEL = 1
# Per family (table, source): (source field, column, how the column's value reads as the field's text). `pack`
# drops a field only when the column's value, so written, equals the field's text exactly.
FIELDS_IN_COLUMNS: dict[tuple[str, str], tuple[tuple[str, str, str], ...]] = {
    ("violations", "HPD"): (
        ("violationid", "source_id", "text"),
        ("novdescription", "description", "text"),
        ("class", "class", "text"),
        ("currentstatus", "status_raw", "text"),
        ("ordernumber", "category", "text"),
        ("bbl", "bbl", "text"),
        ("bin", "bin", "text"),
        ("boroid", "borough", "int"),
        ("inspectiondate", "issued_date", "date"),
        ("novissueddate", "issued_date", "date"),
        ("currentstatusdate", "status_date", "date"),
        ("certifieddate", "certified_date", "date"),
        ("originalcertifybydate", "certify_by_date", "date"),
        ("newcertifybydate", "certify_by_date", "date"),
        ("originalcorrectbydate", "correct_by_date", "date"),
        ("newcorrectbydate", "correct_by_date", "date"),
        (":updated_at", "source_updated_at", "timestamp"),
    ),
    # Complaints (migration 0027): the fields their normalizers copy or read a date from.
    ("complaints", "HPD"): (
        ("problem_id", "source_id", "text"),
        ("complaint_id", "complaint_id", "text"),
        ("major_category", "category", "text"),
        ("minor_category", "subcategory", "text"),
        ("type", "priority", "text"),
        ("problem_status", "status_raw", "text"),
        ("complaint_status", "status_raw", "text"),
        ("received_date", "received_date", "date"),
        ("problem_status_date", "status_date", "date"),
        ("complaint_status_date", "status_date", "date"),
        ("bin", "bin", "text"),
        ("bbl", "bbl", "text"),
        (":updated_at", "source_updated_at", "timestamp"),
    ),
    ("complaints", "DOB"): (
        ("complaint_number", "source_id", "text"),
        ("status", "status_raw", "text"),
        ("date_entered", "received_date", "mdy"),
        ("bin", "bin", "text"),
        ("complaint_category", "category", "text"),
        ("unit", "subcategory", "text"),
        ("disposition_date", "status_date", "mdy"),
        ("inspection_date", "status_date", "mdy"),
        (":updated_at", "source_updated_at", "timestamp"),
    ),
    ("complaints", "311"): (
        ("unique_key", "source_id", "text"),
        ("complaint_type", "category", "text"),
        ("descriptor", "subcategory", "text"),
        ("status", "status_raw", "text"),
        ("bbl", "bbl", "text"),
        ("latitude", "latitude", "float"),
        ("longitude", "longitude", "float"),
        (":updated_at", "source_updated_at", "timestamp"),
    ),
}


def _timestamp_text(value: datetime) -> str:
    # isoformat, cut to milliseconds, without its "+00:00": strftime cost twice as much.
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@lru_cache(maxsize=65_536)
def _date_text(value: date) -> str:
    # A date column holds a few thousand distinct days across millions of rows: the text is looked up, not made.
    return f"{value.isoformat()}T00:00:00.000"


@lru_cache(maxsize=65_536)
def _mdy_text(value: date) -> str:
    return f"{value.month:02}/{value.day:02}/{value.year:04}"


# A column's value as the source writes it: SODA 2.1's floating timestamps for dates, UTC with milliseconds for
# system timestamps, DOB's MM/DD/YYYY text dates, a coordinate as Python's shortest repr (a source's text that
# differs, more digits, stays in the record).
_TEXT: dict[str, Callable[[Any], str]] = {
    "int": str,
    "float": repr,
    "date": _date_text,
    "mdy": _mdy_text,
    "timestamp": _timestamp_text,
}


def _as_text(value: Any, kind: str) -> str | None:
    return value if value is None or kind == "text" else _TEXT[kind](value)


# HPD violations' (wvxf-dwi5) fields in the API's order, the common text of their values, then the system fields.
_HPD_FIELDS = (
    "violationid", "buildingid", "registrationid", "boroid", "boro", "housenumber", "lowhousenumber",
    "highhousenumber", "streetname", "streetcode", "zip", "apartment", "story", "block", "lot", "class",
    "inspectiondate", "approveddate", "originalcertifybydate", "originalcorrectbydate", "newcertifybydate",
    "newcorrectbydate", "certifieddate", "ordernumber", "novid", "novdescription", "novissueddate",
    "currentstatusid", "currentstatus", "currentstatusdate", "novtype", "violationstatus", "rentimpairing",
    "latitude", "longitude", "communityboard", "councildistrict", "censustract", "bin", "bbl", "nta",
)  # fmt: skip
# The common text of HPD values: a value compresses to a reference into it.
_HPD_DICTIONARY = (
    b'"MANHATTAN","BRONX","BROOKLYN","QUEENS","STATEN ISLAND","AVENUE","STREET","PLACE","ROAD","BOULEVARD",'
    b'"VIOLATION CLOSED","NOT COMPLIED WITH","VIOLATION DISMISSED","NOV SENT OUT","FIRST NO ACCESS TO RE- INSPECT",'
    b'"NOV CERTIFIED LATE","INFO NOV SENT OUT","CIV14 MAILED","VIOLATION OPEN","LEAD DOCS SUBMITTED, ACCEPTABLE",'
    b'"Original","Open","Close","N","Y","T00:00:00.000","T00:00:00.000Z","row-'
)

# Per family: its fields in the order the API sends them (system fields first), and its dictionary. A record whose
# keys follow that order (any of them missing: null fields are omitted) keeps its layout as one bit mask.
FIELD_ORDER: dict[tuple[str, str], tuple[str, ...]] = {
    ("violations", "HPD"): (":id", ":created_at", ":updated_at", *_HPD_FIELDS),
    **{family: (":id", ":created_at", ":updated_at", *fields) for family, fields in dictionaries.FIELDS.items()},
}
# Dictionary id -> preset dictionary. 0 is none (a family without one of its own); ids are never reused.
DICTIONARIES: dict[int, bytes] = {0: b"", 1: _HPD_DICTIONARY, **dictionaries.DICTIONARIES}
DICTIONARY_OF_FAMILY = {("violations", "HPD"): 1, **dictionaries.DICTIONARY_OF_FAMILY}


def pack(table: str, source: str, raw: Mapping[str, Any], columns: Sequence[Any]) -> bytes:
    """The record packed; `columns` holds the row's values of its family's FIELDS_IN_COLUMNS, in that order.

    The compressed JSON is [layout, dropped, values]: `layout` the keys in order (a bit mask over the family's
    FIELD_ORDER when they follow it, else their list), `dropped` a bit mask of the positions whose value a column
    holds, `values` the other values in order."""
    family = (table, source)
    return compress(DICTIONARY_OF_FAMILY.get(family, 0), payload(family, raw, columns))


def payload(family: tuple[str, str], raw: Mapping[str, Any], columns: Sequence[Any]) -> bytes:
    """The JSON that `pack` compresses (also what benchmarks/pack_dictionaries.py chooses a dictionary on)."""
    layout, checks = _layout(family, tuple(raw))
    values = list(raw.values())
    dropped = 0
    for j, i, text in checks:  # by descending position: deleting one leaves the positions still to check
        held = columns[j]
        if held is not None:
            value = values[i]
            if value is not None and value == (held if text is None else text(held)):
                dropped |= 1 << i
                del values[i]
    return orjson.dumps([layout, dropped, values])


def compress(dictionary_id: int, data: bytes) -> bytes:
    """`data` packed in the current format against the dictionary `dictionary_id`, with its two-byte header."""
    return bytes((FORMAT, dictionary_id)) + _zstd(dictionary_id)[0].compress(data)


def packed_payload(packed: bytes) -> bytes:
    """The JSON inside packed bytes of any format (`compress` undone)."""
    packed = bytes(packed)
    dictionary_id = packed[1]
    if packed[0] == FORMAT:
        return _zstd(dictionary_id)[1].decompress(packed[2:])
    if packed[0] == _DEFLATED:
        dictionary = DICTIONARIES[dictionary_id]
        inflate = zlib.decompressobj(DEFLATE_WBITS, dictionary) if dictionary else zlib.decompressobj(DEFLATE_WBITS)
        return inflate.decompress(packed[2:]) + inflate.flush()
    raise ValueError(f"unknown packed record format {packed[0]}")


_per_thread = threading.local()  # a zstd context serves one call at a time: each thread has its own


def _zstd(dictionary_id: int) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    contexts = _per_thread.__dict__.setdefault("contexts", {})
    pair = contexts.get(dictionary_id)
    if pair is None:
        pair = contexts[dictionary_id] = zstd_contexts(dictionary_id)
    return pair


def zstd_contexts(
    dictionary_id: int, level: int = _ZSTD_LEVEL
) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    """A new compressor and decompressor of format 2 against a dictionary (another level only for
    benchmarks/pack_cpu.py's comparison); one thread at a time may use them."""
    dictionary = _zstd_dictionary(dictionary_id, level)
    return (
        zstandard.ZstdCompressor(dict_data=dictionary, compression_params=_zstd_parameters(level)),
        zstandard.ZstdDecompressor(dict_data=dictionary, format=zstandard.FORMAT_ZSTD1_MAGICLESS),
    )


@cache
def _zstd_parameters(level: int) -> zstandard.ZstdCompressionParameters:
    return zstandard.ZstdCompressionParameters.from_level(
        level, format=zstandard.FORMAT_ZSTD1_MAGICLESS, write_checksum=0, write_content_size=1, write_dict_id=0
    )


@cache
def _zstd_dictionary(dictionary_id: int, level: int) -> zstandard.ZstdCompressionDict | None:
    # The same preset bytes as deflate's, as raw content; prepared once (read only, shared by the threads).
    content = DICTIONARIES[dictionary_id]
    if not content:
        return None
    dictionary = zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    dictionary.precompute_compress(compression_params=_zstd_parameters(level))
    return dictionary


def unpack(packed: bytes, table: str, source: str, columns: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the source sent it, from `pack`'s bytes and the stored row's column values."""
    layout, dropped, values = orjson.loads(packed_payload(packed))
    family = (table, source)
    order = FIELD_ORDER.get(family, ())
    keys = [key for i, key in enumerate(order) if layout >> i & 1] if isinstance(layout, int) else layout
    column_of = {field: (column, kind) for field, column, kind in FIELDS_IN_COLUMNS.get(family, ())}
    kept = iter(values)
    record = {}
    for i, key in enumerate(keys):
        if dropped >> i & 1:
            column, kind = column_of[key]
            record[key] = _as_text(columns[column], kind)
        else:
            record[key] = next(kept)
    return record


_FIELD_INDEX = {family: {key: i for i, key in enumerate(order)} for family, order in FIELD_ORDER.items()}
Check = tuple[int, int, Callable[[Any], str] | None]


@lru_cache(maxsize=4096)
def _layout(family: tuple[str, str], keys: tuple[str, ...]) -> tuple[int | tuple[str, ...], tuple[Check, ...]]:
    """The keys as a bit mask over the family's FIELD_ORDER when they follow it (else the keys themselves), and
    per FIELDS_IN_COLUMNS field among them (index in `columns`, position among the keys, how its column's value
    reads as text: None when it is text). A dataset's records share a few layouts (which of their fields are
    null), so this is looked up per record, not worked out, and `pack` visits only the fields the record has,
    the last first."""
    where = {key: i for i, key in enumerate(keys)}
    checks = tuple(
        sorted(
            (
                (j, where[field], None if kind == "text" else _TEXT[kind])
                for j, (field, _, kind) in enumerate(FIELDS_IN_COLUMNS.get(family, ()))
                if field in where
            ),
            key=lambda check: -check[1],
        )
    )
    index = _FIELD_INDEX.get(family)
    if index is None:
        return keys, checks
    mask, last = 0, -1
    for key in keys:
        i = index.get(key, -1)
        if i <= last:
            return keys, checks
        mask |= 1 << i
        last = i
    return mask, checks


def record_columns(table: str) -> tuple[str, ...]:
    """The columns of `table` that stored_record reads: the record's three forms, the source and every column that
    one of the table's families names."""
    held = {c for (t, _), pairs in FIELDS_IN_COLUMNS.items() if t == table for _, c, _ in pairs}
    return ("source", "raw", "raw_packed", "source_page", "source_line", *sorted(held - {"source"}))


RECORD_COLUMNS = record_columns("violations")


def stored_record(row: Mapping[str, Any], pages: PageReader, table: str = "violations") -> dict[str, Any]:
    """A stored row's source record from its `record_columns(table)`: in its page (migration 0033), or, for a row
    written before and unchanged since, packed in the row (0025 for violations, 0027 for complaints) or as JSON
    in `raw` (before those)."""
    if row["source_page"] is not None:
        return pages.record(row["source_page"], row["source_line"])
    if row["raw_packed"] is None:
        return row["raw"]
    return unpack(row["raw_packed"], table, row["source"], row)
