"""Readers for the dataset files the replay server serves.

Three layouts, all yielding rows the way the SODA JSON API returns them (keys are field names, values strings,
null fields omitted):

* API JSON (`<id>.json`, or zstd-compressed `<id>.json.zst`): a JSON array. The synthetic city and Socrata itself
  write one row per line, which is streamed line by line; any other JSON array (e.g. re-indented by json.dump) is
  parsed whole.
* API CSV (`<id>.csv` from `/resource/<id>.csv`): the header row already holds field names.
* Portal CSV export (`/api/views/<id>/rows.csv`): display-name headers, MM/DD/YYYY dates and thousands
  separators; converted with configs/socrata_csv_headers.json and the column types in socrata_schemas.yaml.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import zstandard

from citysim.replay.schemas import DatasetSchema, load_csv_headers, schema_for

# Values are strings; a `checkbox` is a JSON boolean and a `point` a GeoJSON dict, as in the API.
Row = dict[str, Any]

_PORTAL_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2}):(\d{2}) ?([AP]M))?$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_CSV_POINT = re.compile(r"^\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)$")


class DataFileError(ValueError):
    """A dataset file that cannot be served as it is: which file, which line, what is wrong."""

    def __init__(self, path: Path, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


ZSTD_SUFFIX = ".zst"
DATASET_FILE_SUFFIXES = (".json", ".json.zst", ".csv")


def dataset_file_suffix(path: str | Path) -> str | None:
    """Which of DATASET_FILE_SUFFIXES a file name ends with (case ignored), or None."""
    name = Path(path).name.lower()
    return next((s for s in DATASET_FILE_SUFFIXES if name.endswith(s)), None)


def open_bytes(path: Path) -> io.BufferedIOBase:
    """A file's bytes, decompressed as they are read when its name ends in `.zst`."""
    fh = path.open("rb")
    if not path.name.lower().endswith(ZSTD_SUFFIX):
        return fh
    return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))


def read_json_document(path: Path) -> Any:
    """A whole JSON file (`.json` or `.json.zst`), parsed."""
    with open_bytes(path) as fh:
        return orjson.loads(fh.read())


def read_dataset_file(path: str | Path, dataset_id: str) -> Iterator[Row]:
    """Rows of a dataset file (API JSON, API CSV or portal CSV export), as the SODA JSON API returns them."""
    path = Path(path)
    suffix = dataset_file_suffix(path)
    if suffix in (".json", ".json.zst"):
        return read_json_array(path)
    if suffix == ".csv":
        return read_csv(path, dataset_id)
    raise ValueError(f"{path}: unsupported dataset file type {path.suffix!r} (expected .json, .json.zst or .csv)")


def read_json_array(path: Path) -> Iterator[Row]:
    try:
        with open_bytes(path) as fh:
            first = _first_line_row(fh)
        yield from (_read_whole_json(path) if first is None else _read_json_lines(path))
    except zstandard.ZstdError as exc:
        raise DataFileError(path, None, f"not readable as zstd-compressed data: {exc}") from exc


def _strip_array_punctuation(line: bytes) -> bytes:
    # Both one-row-per-line forms: `{...},` (synth, json.dumps per row) and `,{...}` (Socrata's own body).
    s = line.strip()
    if s[:1] in (b"[", b","):
        s = s[1:].lstrip()
    if s[-1:] in (b"]", b","):
        s = s[:-1].rstrip()
    return s


def _first_line_row(fh: Any) -> Row | None:
    """The first row if the file uses the one-row-per-line layout, else None (use the whole-file parser)."""
    for raw in fh:
        s = _strip_array_punctuation(raw)
        if not s:
            continue
        if not (s.startswith(b"{") and s.endswith(b"}")):
            return None
        try:
            row = orjson.loads(s)
        except orjson.JSONDecodeError:
            return None
        return row if isinstance(row, dict) else None
    return None


def _read_json_lines(path: Path) -> Iterator[Row]:
    opened = closed = False
    lineno = 0
    with open_bytes(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            stripped = raw.strip()
            if not stripped:
                continue
            opened = opened or stripped.startswith(b"[")
            closed = stripped.endswith(b"]")
            s = _strip_array_punctuation(raw)
            if not s:
                continue
            try:
                row = orjson.loads(s)
            except orjson.JSONDecodeError as exc:
                raise DataFileError(path, lineno, f"not one JSON row per line: {exc}") from exc
            if not isinstance(row, dict):
                raise DataFileError(path, lineno, f"expected a JSON object, got {type(row).__name__}")
            yield row
    # A file cut at a row boundary still parses line by line: only the missing "]" tells it was truncated.
    if not (opened and closed):
        raise DataFileError(path, lineno, "truncated: the JSON array is not closed with ']'")


def _read_whole_json(path: Path) -> Iterator[Row]:
    with open_bytes(path) as fh:
        text = fh.read()
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        problem = "empty file, not a JSON array" if not text else f"invalid JSON: {exc.msg}"
        raise DataFileError(path, exc.lineno if text else None, problem) from exc
    if not isinstance(data, list):
        raise DataFileError(path, 1, "expected a JSON array of rows")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DataFileError(path, None, f"element {i} is {type(row).__name__}, not an object")
        # Socrata omits null fields; a re-serialized file may carry explicit nulls.
        yield {k: v for k, v in row.items() if v is not None}


def read_csv(path: Path, dataset_id: str) -> Iterator[Row]:
    schema = schema_for(dataset_id)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        fields, portal = map_csv_header(header, dataset_id, schema)
        convert = _portal_converters(fields, schema) if portal else {}
        cut = not _ends_with_newline(path)
        previous: list[str] | None = None
        for record in reader:
            if len(record) > len(fields):
                raise DataFileError(path, reader.line_num, f"{len(record)} columns, the header has {len(fields)}")
            previous = record
            row: Row = {}
            for name, value in zip(fields, record, strict=False):
                if value == "":
                    continue  # an empty CSV cell is a null, and the API omits nulls
                conv = convert.get(name)
                row[name] = conv(value) if conv else value
            if row:
                yield row
        # Exports omit trailing empty cells, so a short row is normal; a short row with no line end after it is
        # a file cut in the middle of its last record.
        if cut and previous is not None and len(previous) < len(fields):
            raise DataFileError(path, reader.line_num, f"truncated: the last row has {len(previous)} of {len(fields)} "
                                "columns and no line end")  # fmt: skip


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return True
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def map_csv_header(header: list[str], dataset_id: str, schema: DatasetSchema) -> tuple[list[str], bool]:
    """Field names for a CSV header, and whether it is a portal export (display names) rather than API CSV."""
    known = {c.field for c in schema.columns}
    api_names = all(h in known or h.startswith(":") for h in header)
    if api_names or (not known and all(h == h.lower() for h in header)):
        return header, False
    mapping = load_csv_headers().get(dataset_id, {})
    by_lower = {k.lower(): v for k, v in mapping.items()}
    known_lower = {f.lower(): f for f in known}
    fields = []
    for h in header:
        # DCP PLUTO release CSVs use PascalCase names that match the API field names case-insensitively.
        f = mapping.get(h) or by_lower.get(h.lower()) or known_lower.get(h.lower())
        fields.append(f or _fallback_field_name(h))
    return fields, True


def _fallback_field_name(header: str) -> str:
    # Socrata derives field names from display names this way (lowercase, non-alphanumerics to `_`).
    return re.sub(r"[^0-9a-z]+", "_", header.lower()).strip("_")


def _portal_converters(fields: list[str], schema: DatasetSchema) -> dict[str, Any]:
    conv: dict[str, Any] = {}
    for f in fields:
        t = schema.type_of(f)
        if t == "floating_timestamp":
            conv[f] = portal_date_to_floating
        elif t in ("number", "money"):
            conv[f] = strip_thousands
        elif t == "checkbox":
            conv[f] = _checkbox
        elif t == "point":
            conv[f] = _point
    return conv


def portal_date_to_floating(value: str) -> str:
    """`MM/DD/YYYY[ hh:mm:ss AM]` -> `YYYY-MM-DDTHH:MM:SS.000`; anything else is kept as written."""
    m = _PORTAL_DATE.match(value.strip())
    if not m:
        return value
    mo, d, y, hh, mi, ss, ampm = m.groups()
    if hh is None:
        return f"{y}-{int(mo):02d}-{int(d):02d}T00:00:00.000"
    t = datetime.strptime(f"{hh}:{mi}:{ss} {ampm}", "%I:%M:%S %p")
    return f"{y}-{int(mo):02d}-{int(d):02d}T{t:%H:%M:%S}.000"


def strip_thousands(value: str) -> str:
    return value.replace(",", "") if _THOUSANDS.match(value) else value


def _checkbox(value: str) -> Any:
    low = value.strip().lower()
    return {"true": True, "false": False}.get(low, value)


def _point(value: str) -> Any:
    # The portal writes `(lat, lon)`; the API returns GeoJSON with [lon, lat].
    m = _CSV_POINT.match(value.strip())
    if not m:
        return value
    lat, lon = m.groups()
    return {"type": "Point", "coordinates": [float(lon), float(lat)]}


# Every real sample in shared/realdata that belongs to a served dataset, relative to the realdata directory.
# Files left out: retired HPD complaint datasets (uwyv-629c, a2nx-4u46), OATH (jz4z-kudi, not served) and the
# 311 VCR cassettes (recorded HTTP, not data files).
REALDATA_SAMPLES: dict[str, str] = {
    "hpd_violations/tablynn/housing_code_violations.json": "wvxf-dwi5",
    "hpd_violations/nycdb/hpd_violations.csv": "wvxf-dwi5",
    "hpd_violations/nycdb/hpd_vacateorders.csv": "tb8q-a3ar",
    "dob_violations/tablynn/dob_violations.json": "3h2n-5cm9",
    "dob_violations/nycdb/dob_violations.csv": "3h2n-5cm9",
    "dob_violations/nycdb/dob_safety_violations.csv": "855j-jady",
    "ecb_violations/nycdb/ecb_violations.csv": "6bgk-3dad",
    "hpd_complaints/nycdb/hpd_complaints_and_problems.csv": "ygpa-z7cr",
    "dob_complaints/tablynn/dob_complaints.json": "eabe-havv",
    "dob_complaints/nycdb/dob_complaints.csv": "eabe-havv",
    "service_requests_311/somaiyahhafeez-newyork/311.csv": "erm2-nwe9",
    "hpd_registrations/nycdb/hpd_registrations.csv": "tesw-yqqr",
    "hpd_registrations/nycdb/hpd_contacts.csv": "feu5-w2e2",
    "pluto/nycdb/pluto_latest.csv": "64uk-42ks",
}


def realdata_samples(realdata_dir: str | Path) -> list[tuple[Path, str]]:
    """(path, dataset id) of every real sample file under realdata_dir, including the PLUTO releases."""
    root = Path(realdata_dir)
    found = [(root / rel, ds) for rel, ds in REALDATA_SAMPLES.items() if (root / rel).is_file()]
    found += [(p, "64uk-42ks") for p in sorted(root.glob("pluto/nycdb/pluto_*/*.csv"))]
    return found


def dataset_id_for_sample(path: str | Path) -> str | None:
    """Dataset id of a realdata sample file, or None if it is not one the replay server serves."""
    p = Path(path).as_posix()
    for rel, ds in REALDATA_SAMPLES.items():
        if p.endswith(rel):
            return ds
    if re.search(r"pluto/nycdb/pluto_[^/]+/[^/]+\.csv$", p):
        return "64uk-42ks"
    return None
