"""The one exception every intake refusal raises."""


class IntakeError(ValueError):
    """A refusal of hostile or unusable input, with a short code and a message a person can act on.

    `code` is a stable slug ("too_large", "zip_slip", "private_address", ...) that callers map to an
    HTTP status, an ImportRowError row or an audit event; `message` says in words what is wrong.
    """

    status: int | None = None  # http_error: the status the server answered

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"IntakeError({self.code!r}, {self.message!r})"


def shown(value: str, limit: int = 80) -> str:
    """A hostile string, cut short and quoted, for use inside a message."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)
