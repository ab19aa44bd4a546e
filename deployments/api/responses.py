"""JSON rendering with orjson (dates, Decimals and numpy-free payloads), used for every response."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import JSONResponse as _FastAPIJSONResponse


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact; the schema says string
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(_FastAPIJSONResponse):
    """FastAPI's JSONResponse (so OpenAPI documents the response models) rendered with orjson."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
