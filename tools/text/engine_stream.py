"""The HTTP side of tools/text/engine.py: one streamed POST to an OpenAI-compatible engine, its
server-sent `data:` events as JSON objects, and every way it can fail as an EngineError.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from genai_mcp.tools.errors import EngineError

__all__ = ["malformed", "open_stream"]

_DETAIL_CHARS = 300  # of an engine's error answer, quoted in the message


@dataclass
class _Stream:
    """The parsed `data:` events of one streamed answer (until `[DONE]` or the end)."""

    lines: Iterator[str]
    shown: str

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for line in self.lines:
            if not line.startswith("data:"):
                continue  # blank separators, comments, `event:` / `id:` fields
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                raise malformed(self.shown, f"an event that is not JSON: {data[:80]!r}") from None
            if not isinstance(event, dict):
                raise malformed(self.shown, f"an event that is not an object: {data[:80]!r}")
            if "error" in event:
                raise EngineError(
                    f"the inference engine at {self.shown} failed mid-stream: {_error_detail(event)}",
                    setting="text.engine_url",
                )
            yield event


@contextmanager
def open_stream(
    url: str, shown: str, body: dict[str, Any], *, api_key: str | None, timeout_seconds: float
) -> Iterator[_Stream]:
    """POST `body` to `url` and hold the streamed answer's events; HTTP failures, then or while
    reading, become EngineError naming `shown` (the URL without credentials), never `api_key`.
    Leaving the block closes the connection."""
    import httpx2

    headers = {"Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    with httpx2.Client(timeout=timeout_seconds, headers=headers) as client:
        try:
            with client.stream("POST", url, json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise EngineError(
                        f"HTTP {response.status_code} from {shown}: {_answer_detail(response, api_key)}",
                        setting="text.engine_url",
                    )
                yield _Stream(response.iter_lines(), shown)
        except httpx2.TimeoutException:
            raise EngineError(
                f"the inference engine at {shown} sent nothing for {timeout_seconds:g} s",
                setting="text.engine_timeout_seconds",
            ) from None
        except httpx2.ConnectError as exc:
            raise EngineError(
                f"cannot reach the inference engine at {shown}: {_redact(str(exc), api_key)}",
                setting="text.engine_url",
            ) from None
        except httpx2.HTTPError as exc:
            raise EngineError(
                f"the connection to the inference engine at {shown} broke: "
                f"{_redact(str(exc), api_key) or type(exc).__name__}",
                setting="text.engine_url",
            ) from None


def _answer_detail(response: Any, api_key: str | None) -> str:
    try:
        detail = _error_detail(response.json())
    except ValueError:
        detail = response.text
    return _redact(" ".join(str(detail).split())[:_DETAIL_CHARS], api_key) or "(no detail)"


def _redact(text: str, api_key: str | None) -> str:
    # An engine may quote a rejected key back ("Incorrect API key provided: sk-..."); the message
    # goes to the tool's caller, who must not learn it.
    return text.replace(api_key, "***") if api_key else text


def _error_detail(answer: Any) -> str:
    """The message of an OpenAI-style error ({"error": {"message"}}, {"error": "..."}) or FastAPI's {"detail"}."""
    if isinstance(answer, dict):
        error = answer.get("error", answer.get("detail", answer))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)
    return str(answer)


def malformed(shown: str, what: str) -> EngineError:
    return EngineError(
        f"the inference engine at {shown} sent {what}; is it an OpenAI-compatible API?",
        setting="text.engine_url",
    )
