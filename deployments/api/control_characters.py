"""Control characters are refused at the door: 422 naming the field, for every route (an app-wide dependency).

PostgreSQL cannot store NUL in text or jsonb, and no field of this API means anything with a bell or an escape
in it; left alone, such values reached the database and came back as 500s (an export cut mid-body). Checked:
query parameters (names and values), path parameters, the headers the API reads, and every string of a JSON or
form body (keys too). Body text may hold tabs and line breaks; nothing else may hold any C0 or C1 control
character or DEL. The dependency runs before authentication, so the unauthenticated forms are covered too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute

from deployments.api.errors import ApiError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR allowed
READ_HEADERS = ("authorization", "x-api-key", "x-request-id", "x-forwarded-for")

Loc = tuple[str | int, ...]


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*loc, key), key
            yield from _strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


async def _body_strings(request: Request) -> Iterator[tuple[Loc, str]]:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return iter(())  # the route reads no body: nothing of it reaches the app
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # parsed already for the route; Starlette keeps it
        return ((("body", key), value) for key, value in form.multi_items() if isinstance(value, str))
    body = await request.body()
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return iter(())  # not JSON: FastAPI answered already or treats it as bytes
    return _strings(parsed, ("body",))


def _refuse(loc: Loc, char: str) -> ApiError:
    name = ".".join(str(part) for part in loc)
    message = f"{name} contains a control character (U+{ord(char):04X}); remove it and retry"
    detail = {"loc": list(loc), "msg": "control characters are not allowed", "type": "control_character"}
    return ApiError(422, "control_character", message, [detail])


async def refuse_control_characters(request: Request) -> None:
    candidates: list[tuple[Loc, str, re.Pattern[str]]] = []
    for key, value in request.query_params.multi_items():
        candidates += [(("query", key), key, _CONTROL), (("query", key), value, _CONTROL)]
    for key, value in request.path_params.items():
        if isinstance(value, str):
            candidates.append((("path", key), value, _CONTROL))
    for name in READ_HEADERS:
        for value in request.headers.getlist(name):
            candidates.append((("header", name), value, _CONTROL))
    for loc, text in await _body_strings(request):
        candidates.append((loc, text, _CONTROL_IN_TEXT))
    for loc, text, pattern in candidates:
        found = pattern.search(text)
        if found:
            raise _refuse(loc, found.group())
