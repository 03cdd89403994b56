"""Domain errors: values with a reason code that the HTTP layer maps to 4xx in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the caller can act on. `code` is a stable snake_case reason."""

    status = 400

    def __init__(
        self, code: str, message: str, *, beside: dict[str, Any] | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.beside = beside or {}  # top-level members next to `error` (`missed`)

    def to_body(self) -> dict[str, Any]:
        """The API.md error shape."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error.update(self.details)
        return {"error": error, **self.beside}


class InvalidInput(DomainError):
    status = 400


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class PayloadTooLarge(DomainError):
    status = 413
