"""Reading NYC Open Data through sodapy, with the retry policy of DESIGN.md.

sodapy builds the request (resource URL, SoQL parameters, app token, session) and reports HTTP errors; its
answer parse is skipped: it decodes the body to text and runs the standard library's `json` over it, which was
most of the fetch time (benchmarks/RESULTS.md). Pages travel as the bytes the server sent and are parsed with
orjson where they are used, so a page crosses from fetcher to normalizer without being pickled as objects.

Retries 429, 5xx, timeouts, connection errors and 202 ("processing, retry the same request") with exponential
backoff and jitter; never retries a 400, which on this API means the query no longer fits the dataset (schema
drift): that fails the dataset with Socrata's own message. Pages are read by key, never by deep `$offset`.
The dataset's metadata (`rowsUpdatedAt`) is asked with fewer attempts: a caller that cannot have it reads the
dataset in full, which is slower but never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3
from sodapy import Socrata, utils
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
METADATA_ATTEMPTS = 3


class SchemaDriftError(Exception):
    """The API refused the query (HTTP 400): a column was renamed, dropped or changed type."""


class SourceUnavailableError(Exception):
    """The API kept failing after every retry."""


class _RetryLaterError(Exception):
    """A 202 or a body that is not a JSON array: ask again."""


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, _RetryLaterError | requests.Timeout | requests.ConnectionError):
        return True
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code in RETRYABLE_STATUS
    return False


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("socrata request retried", extra={"attempt": state.attempt_number, "error": str(error)[:200]})


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a partition's reading stands: after this (:updated_at, :id), or after this :id for a full read."""

    updated_at: str | None = None
    row_id: str | None = None


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def keyset_where(base: str | None, cursor: Cursor | None, incremental: bool) -> str | None:
    """`$where` that continues after `cursor`; ties on :updated_at are broken by :id (dev.socrata.com #644)."""
    clauses = [f"({base})"] if base else []
    if cursor and incremental and cursor.updated_at:
        mark = _quote(cursor.updated_at)
        if cursor.row_id:
            clauses.append(f"(:updated_at > {mark} OR (:updated_at = {mark} AND :id > {_quote(cursor.row_id)}))")
        else:
            clauses.append(f":updated_at > {mark}")
    elif cursor and cursor.row_id:
        clauses.append(f":id > {_quote(cursor.row_id)}")
    return " AND ".join(clauses) or None


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class _NoTokenWarningFilter(logging.Filter):
    """sodapy warns on the root logger that a client without an app token is throttled: true of NYC's API, noise
    against the local replay server, which has no throttling and knows no tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Requests made without an app_token")


class SocrataSource:
    """One sodapy client against `base_url` (https://data.cityofnewyork.us, or a local replay server)."""

    def __init__(
        self,
        base_url: str,
        app_token: str | None = None,
        *,
        timeout: float = 120,
        attempts: int = 8,
        max_backoff_s: float = 30,
    ):
        parts = urlsplit(base_url)
        adapter = None
        if parts.scheme == "http":
            adapter = {"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()}
        quiet = _NoTokenWarningFilter() if not app_token and parts.hostname in _LOOPBACK else None
        root = logging.getLogger()
        if quiet is not None:
            root.addFilter(quiet)
        try:
            self.client = Socrata(parts.netloc, app_token, timeout=timeout, session_adapter=adapter)
        finally:
            if quiet is not None:
                root.removeFilter(quiet)
        self.base_url = base_url
        policy: dict[str, Any] = {
            "retry": retry_if_exception(_is_retryable),
            "wait": wait_exponential_jitter(multiplier=0.1, max=max_backoff_s, jitter=0.2),
            "before_sleep": _log_retry,
            "reraise": True,
        }
        self._retrying = retry(stop=stop_after_attempt(attempts), **policy)
        self._metadata_retrying = retry(stop=stop_after_attempt(min(attempts, METADATA_ATTEMPTS)), **policy)
        self.retries = 0

    def close(self) -> None:
        self.client.close()

    def _request(self, dataset_id: str, params: dict[str, Any]) -> bytes:
        """sodapy's `Socrata.get` up to the answer: the body as sent, which must be a JSON array."""
        client = self.client
        resource = utils.format_new_api_request(dataid=dataset_id, content_type="json")
        query = utils.clear_empty_values({f"${name}": value for name, value in params.items()})
        response = client.session.get(f"{client.uri_prefix}{client.domain}{resource}", params=query,
                                      timeout=client.timeout, stream=True)  # fmt: skip
        if response.status_code not in (200, 202):
            utils.raise_for_status(response)
        # One read of the whole body: requests' `.content` joins it from 10 KB chunks in Python, which was most of
        # a fetcher's CPU (benchmarks/RESULTS.md, "Ingestion"). urllib3's errors are raised as the requests errors
        # the retry policy knows.
        try:
            body = response.raw.read(decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as error:
            raise requests.Timeout(error) from error
        except urllib3.exceptions.HTTPError as error:  # a body cut short, a broken connection, bad gzip
            raise requests.ConnectionError(error) from error
        if response.status_code == 202 or body[:64].lstrip()[:1] != b"[":
            raise _RetryLaterError(f"{dataset_id}: answer was not a JSON array (HTTP {response.status_code})")
        return body

    def _get_body(self, dataset_id: str, **params: Any) -> bytes:
        def once() -> bytes:
            try:
                return self._request(dataset_id, params)
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else None
                if status == 400:
                    raise SchemaDriftError(f"{dataset_id}: {error}") from None
                if status in RETRYABLE_STATUS:
                    self.retries += 1
                raise
            except (requests.Timeout, requests.ConnectionError, _RetryLaterError):
                self.retries += 1
                raise

        try:
            return self._retrying(once)()
        except (requests.RequestException, _RetryLaterError) as error:
            raise SourceUnavailableError(f"{dataset_id}: {error}") from error

    def _get(self, dataset_id: str, **params: Any) -> list[dict[str, Any]]:
        return orjson.loads(self._get_body(dataset_id, **params))

    def page_body(
        self,
        dataset_id: str,
        *,
        where: str | None,
        cursor: Cursor | None,
        incremental: bool,
        limit: int,
    ) -> bytes:
        """The next page after `cursor`, system fields included, in a stable order, as the JSON bytes sent."""
        params: dict[str, Any] = {
            "select": ":*, *",
            "order": ":updated_at, :id" if incremental else ":id",
            "limit": limit,
        }
        clause = keyset_where(where, cursor, incremental)
        if clause:
            params["where"] = clause
        return self._get_body(dataset_id, **params)

    def rows_updated_at(self, dataset_id: str) -> datetime:
        """The dataset's `rowsUpdatedAt` (`/api/views/<id>.json`, epoch seconds, NYC_DATA.md 4.4): when its rows
        last changed, by an upsert, a deletion or a publisher's full replace. SourceUnavailableError when the
        metadata cannot be had or does not say."""
        client = self.client
        url = f"{client.uri_prefix}{client.domain}/api/views/{dataset_id}.json"

        def once() -> Any:
            response = client.session.get(url, timeout=client.timeout)
            if response.status_code == 202:
                raise _RetryLaterError(f"{dataset_id}: metadata still processing (HTTP 202)")
            response.raise_for_status()
            return orjson.loads(response.content)

        try:
            meta = self._metadata_retrying(once)()
        except (requests.RequestException, _RetryLaterError, orjson.JSONDecodeError) as error:
            raise SourceUnavailableError(f"{dataset_id} metadata: {error}") from error
        value = meta.get("rowsUpdatedAt") if isinstance(meta, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SourceUnavailableError(f"{dataset_id} metadata: no rowsUpdatedAt in the answer (got {value!r})")
        return datetime.fromtimestamp(value, UTC)

    def oldest_updated_at(self, dataset_id: str) -> str | None:
        """The oldest :updated_at of the dataset (None when it has no rows): the first row of the :updated_at
        order, which the source reads off its index."""
        return self._updated_at_edge(dataset_id, ":updated_at")

    def newest_updated_at(self, dataset_id: str) -> str | None:
        """The newest :updated_at of the dataset (None when it has no rows), read off the same index's other end."""
        return self._updated_at_edge(dataset_id, ":updated_at DESC")

    def _updated_at_edge(self, dataset_id: str, order: str) -> str | None:
        rows = self._get(dataset_id, select=":updated_at", order=order, limit=1)
        return rows[0].get(":updated_at") if rows else None

    def count(self, dataset_id: str, where: str | None = None) -> int:
        params: dict[str, Any] = {"select": "count(*) AS n"}
        if where:
            params["where"] = where
        rows = self._get(dataset_id, **params)
        return int(rows[0].get("n") or rows[0].get("count") or 0) if rows else 0

    def keys(self, dataset_id: str, key_field: str, where: str | None, page_size: int = 50_000) -> Iterator[str]:
        """Every natural key of the dataset (for finding deletions, which Socrata never reports)."""
        cursor: Cursor | None = None
        while True:
            params: dict[str, Any] = {"select": f":id, {key_field}", "order": ":id", "limit": page_size}
            clause = keyset_where(where, cursor, incremental=False)
            if clause:
                params["where"] = clause
            rows = self._get(dataset_id, **params)
            for row in rows:
                key = row.get(key_field)
                if key is not None and str(key).strip():
                    yield str(key).strip()
            if len(rows) < page_size:
                return
            cursor = cursor_after(rows[-1], incremental=False)


def cursor_after(last_row: dict[str, Any], incremental: bool) -> Cursor:
    """Where the next page of a partition starts: after this row's (:updated_at, :id), or its :id for a full read."""
    if incremental:
        return Cursor(updated_at=last_row.get(":updated_at"), row_id=last_row.get(":id"))
    return Cursor(row_id=last_row[":id"])


def parse_socrata_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
