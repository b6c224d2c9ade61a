"""The one error type of the user side: a code, a plain message that says what to do next, the field."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused step; nothing was written. Pages show `message`; the API returns all three."""

    status = 400

    def __init__(self, code: str, message: str, field: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        if status is not None:
            self.status = status

    def as_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}
