"""The errors a caller of genai_mcp.tools can meet, as one family.

    GenAIError                  base: an expected failure whose message a user (or model) can act on
    ├── InvalidInputError       the request itself is wrong: empty, mismatched, malformed
    ├── LimitExceededError      the request is well-formed but exceeds a configured limit
    ├── ModelUnavailableError   a model id cannot be resolved or loaded (offline, unknown, wrong type)
    ├── BusyError               a single-slot resource (a training job) is taken
    └── CancelledError          the caller cancelled long work before it finished

Every message names the problem and, where one applies, the limit or the allowed values.
server/ turns each into an MCP ToolError with the same text; anything outside this family is a
bug and is reported to clients only as a generic failure.
"""

from __future__ import annotations

__all__ = [
    "BusyError",
    "CancelledError",
    "GenAIError",
    "InvalidInputError",
    "LimitExceededError",
    "ModelUnavailableError",
]


class GenAIError(Exception):
    """An expected failure; its message is safe and useful to show to the caller."""


class InvalidInputError(GenAIError, ValueError):
    """The input is malformed, empty, inconsistent, or of the wrong kind."""


class LimitExceededError(GenAIError, ValueError):
    """The input exceeds a configured size or count limit; the message names the limit."""

    def __init__(self, what: str, value: float | int, limit: float | int, setting: str | None = None):
        hint = f" (raise it with {setting})" if setting else ""
        super().__init__(f"{what} is {value}, over the limit of {limit}{hint}")
        self.what, self.value, self.limit, self.setting = what, value, limit, setting


class ModelUnavailableError(GenAIError):
    """A model cannot be resolved or loaded; the message says how to fix it."""


class BusyError(GenAIError):
    """A resource that serves one caller at a time is in use."""


class CancelledError(GenAIError):
    """Long work stopped early because the caller cancelled it."""
