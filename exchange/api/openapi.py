"""OpenAPI helpers: the documented error responses of each route (all use the error envelope)."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from exchange.api.schemas import ErrorBody

_DESCRIPTIONS = {
    400: "invalid request (see error.code)",
    401: "missing, invalid or expired token",
    403: "not allowed (admin only)",
    404: "not found (or not yours)",
    405: "method not allowed",
    409: "conflicts with the current state (see error.code)",
    413: "body too large",
    422: "validation error (unknown or malformed fields)",
    429: "rate limited (see Retry-After)",
    503: "not ready / dependency unavailable",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """`responses=` for a route handler: each status answered with `ErrorBody` (400 and 422 always)."""
    wanted = sorted({400, 422, *statuses})
    return {
        s: ResponseSpec(
            data_container=ErrorBody, description=_DESCRIPTIONS.get(s, "error"), generate_examples=False
        )
        for s in wanted
    }
