"""Socrata's two error envelopes, as exceptions the HTTP layer turns into responses."""

from __future__ import annotations

from typing import Any


class SodaError(Exception):
    """An error answered with a Socrata JSON envelope."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def soql_error(code: str, detail: str, data: dict[str, Any] | None = None) -> SodaError:
    """HTTP 400 SoQL error: `{"message", "errorCode", "data"}` as the query coordinator answers."""
    return SodaError(
        400,
        {"message": f"Query coordinator error: {code}; {detail}", "errorCode": code, "data": data or {}},
    )


def no_such_column(column: str, dataset_id: str, position: int = 0) -> SodaError:
    return soql_error(
        "query.soql.no-such-column",
        f"No such column: {column}",
        {"column": column, "dataset": dataset_id, "position": {"row": 1, "column": position + 1}},
    )


def malformed(detail: str, position: int = 0) -> SodaError:
    return soql_error("query.soql.malformed", detail, {"position": {"row": 1, "column": position + 1}})


def type_mismatch(detail: str, position: int = 0) -> SodaError:
    return soql_error("query.soql.type-mismatch", detail, {"position": {"row": 1, "column": position + 1}})


def resource_error(status: int, code: str, message: str, data: dict[str, Any] | None = None) -> SodaError:
    """Resource-level error: `{"code", "error": true, "message", "data"}` (404, 401, 403, 429, ...)."""
    return SodaError(status, {"code": code, "error": True, "message": message, "data": data or {}})


def dataset_missing(dataset_id: str) -> SodaError:
    return resource_error(404, "dataset.missing", "Not found", {"id": dataset_id})
