"""One JSON error shape for every 4xx and 5xx: {"error": {"code", "message", "details"}, "request_id"}.

Stack traces never leave the process: an unexpected exception is logged with the request id and answered 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from deployments.api.responses import JSONResponse
from sentinel.auth.errors import AuthError, Forbidden
from sentinel.logs import correlation_id

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str | None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Not authenticated"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Request body too large"),
        (422, "Invalid request"),
        (429, "Rate limited"),
        (503, "Unavailable"),
    )
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}, "request_id": correlation_id.get()}
    return JSONResponse(body, status_code=status, headers=headers)


class BodyTooLarge(StarletteHTTPException):
    """Raised while a body is read past the limit; FastAPI lets HTTP exceptions from body reading through."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


def body_too_large(max_bytes: int) -> JSONResponse:
    message = f"the request body is larger than {max_bytes} bytes"
    return error_response(413, "payload_too_large", message, {"max_bytes": max_bytes})


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(AuthError)
    async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
        # The reason is logged; the client learns only "invalid" or "expired".
        log.info("authentication failed: %s", exc.reason)
        message = "credentials expired" if "expired" in exc.reason else "invalid credentials"
        return error_response(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return error_response(403, "forbidden", exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", "the request is not valid", _validation_details(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyTooLarge):
            return body_too_large(exc.max_bytes)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %r", exc)
        return error_response(500, "internal_error", "internal error; quote the request id when reporting it")
