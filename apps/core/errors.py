"""Domain errors that services raise without knowing about HTTP; the API maps them (core/api/errors.py)."""


class ConflictError(Exception):
    """The write was based on a state that is no longer current (a stale version, a finished unit): 409.

    `conflicts` says what is current now, so a client can reload exactly what changed."""

    def __init__(self, message: str, conflicts: list | None = None):
        super().__init__(message)
        self.message = message
        self.conflicts = conflicts or []


class GoneError(ConflictError):
    """What was asked for existed and was withdrawn on purpose (e.g. an export that held erased data): 410.

    A ConflictError too, so callers that show a conflict's message show this one the same way."""
