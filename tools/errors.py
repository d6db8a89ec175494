"""The errors a caller of genai_mcp.tools can meet, as one family.

    GenAIError                  base: an expected failure whose message a user (or model) can act on
    ├── InvalidInputError       the request itself is wrong: empty, mismatched, malformed
    │   └── NoSuchPathError     (tools/paths.py) a path names nothing under the roots, or there are none
    ├── LimitExceededError      the request is well-formed but exceeds a configured limit
    ├── ModelUnavailableError   a model id cannot be resolved or loaded (offline, unknown, wrong type)
    │   └── EngineError         (tools/text/engine.py) the inference engine serving the model cannot be
    │                           reached, times out, answers 4xx/5xx or something malformed
    ├── BusyError               a single-slot resource (a training job) is taken
    └── WorkCancelledError      the caller cancelled long work before it finished

Every message names the problem and, where one applies, the limit or the allowed values. An error
that an operator's setting could resolve carries that setting's key in `setting` (a tools/limits.py
key such as "text.max_new_tokens" or "files.roots"); messages never name environment variables.
server/ turns each into an MCP ToolError with the same text, adding how to change the setting;
anything outside this family is a bug and is reported to clients only as a generic failure.
"""

from __future__ import annotations

__all__ = [
    "BusyError",
    "EngineError",
    "GenAIError",
    "InvalidInputError",
    "LimitExceededError",
    "ModelUnavailableError",
    "WorkCancelledError",
]


class GenAIError(Exception):
    """An expected failure; its message is safe and useful to show to the caller.

    `setting`: the key of the setting that would change the outcome (see tools/limits.py), or None.
    """

    def __init__(self, *args: object, setting: str | None = None) -> None:
        super().__init__(*args)
        self.setting = setting


class InvalidInputError(GenAIError, ValueError):
    """The input is malformed, empty, inconsistent, or of the wrong kind."""


class LimitExceededError(GenAIError, ValueError):
    """The input exceeds a configured size or count limit: "{what} is {value}, over the limit of {limit}".

    `setting` is the key of the limit (e.g. "text.max_new_tokens"); None for a fixed limit (a model's
    context, its training timesteps).
    """

    def __init__(self, what: str, value: float | int, limit: float | int, setting: str | None = None):
        super().__init__(f"{what} is {value}, over the limit of {limit}", setting=setting)
        self.what, self.value, self.limit = what, value, limit


class ModelUnavailableError(GenAIError):
    """A model cannot be resolved or loaded; the message says how to fix it."""


class EngineError(ModelUnavailableError):
    """The OpenAI-compatible inference engine text generation is configured to use failed; the message
    names its URL (never the API key) and what went wrong."""


class BusyError(GenAIError):
    """A resource that serves one caller at a time is in use."""


class WorkCancelledError(GenAIError):
    """Long work stopped early because the caller cancelled it (raised from a Progress callback)."""
