"""Shared request pieces: BBL/BIN patterns, keyset cursors, CSV streaming."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import Path
from starlette.responses import StreamingResponse

from deployments.api.errors import ApiError

BBL_PATTERN = r"^[1-5][0-9]{9}$"
BIN_PATTERN = r"^[1-5][0-9]{6}$"
BblPath = Annotated[str, Path(pattern=BBL_PATTERN, description="10-digit borough-block-lot")]


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(
        orjson.dumps([v.isoformat() if isinstance(v, date) else v for v in values])
    ).decode()


def decode_cursor(cursor: str, kinds: Sequence[Callable[[Any], Any]]) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        return [kind(v) for kind, v in zip(kinds, values, strict=True)]
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from exc


class CSVResponse(StreamingResponse):
    media_type = "text/csv"
