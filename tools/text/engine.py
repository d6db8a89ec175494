"""Text generation on an OpenAI-compatible inference engine: vLLM, TGI, llama.cpp's server, Ollama,
`transformers serve`.

    generate_on_engine(GenerateTextRequest, Engine, progress=None, *, limits=None) -> GenerateTextResult

A prompt goes to the engine's `/v1/completions`, messages to `/v1/chat/completions` (the engine
applies its model's chat template), always streamed (`stream: true`): each server-sent event holds
the next piece of text, normally one token. The result is the model generate_text returns in-process.

    request              sent as (flavor openai | vllm | transformers)
    max_new_tokens       max_tokens
    temperature          temperature (0: greedy, as in-process)
    top_p                top_p, when below 1 and sampling
    stop                 stop; the text is also cut before the first stop string here, because some
                         engines (transformers serve) return the stop string with the text
    seed                 seed, when sampling (drawn here when not given, and reported)
    top_k                - | top_k (0 as -1) | -        when sampling; an unsendable value other than
                                                        the default 50 is refused
    repetition_penalty   - | repetition_penalty | frequency_penalty = penalty - 1 (transformers serve
                                                        reads it back as that CTRL penalty); an
                                                        unsendable value other than 1 is refused

Refused, because they need the model in this process: truncate_prompt, use_cache=false, an adapter
(the server runs calls naming one in-process). Token counts come from the usage the engine reports
in the stream's last event (asked for with `stream_options.include_usage`); prompt_tokens is 0 when
an engine reports none (a cancelled stream ends before it does).

Progress and cancellation (tools/progress.py): `progress(pieces_so_far, max_new_tokens)` after each
piece of text; WorkCancelledError from it closes the HTTP stream at once (the engine sees the client
go and stops generating) and the result holds the text so far with finish_reason "cancelled".

Failures are EngineError (tools/errors.py), naming the URL, never the API key: the engine cannot be
reached, sent nothing for `timeout_seconds`, answered 4xx/5xx (with the engine's own detail), broke
the stream, or sent something that is not an OpenAI-style stream.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from genai_mcp.tools.errors import EngineError, InvalidInputError, WorkCancelledError
from genai_mcp.tools.progress import Progress
from genai_mcp.tools.text.engine_stream import malformed, open_stream
from genai_mcp.tools.text.generate import _check_limits, _first_stop
from genai_mcp.tools.text.lm import TextLimits
from genai_mcp.tools.text.schemas import FinishReason, GenerateTextRequest, GenerateTextResult

__all__ = ["DEFAULT_TOP_K", "Engine", "EngineFlavor", "generate_on_engine"]

EngineFlavor = Literal["openai", "vllm", "transformers"]
DEFAULT_TOP_K = GenerateTextRequest.model_fields["top_k"].default


@dataclass(frozen=True)
class Engine:
    """Where text generation runs: an OpenAI-compatible API at `url` (the base, usually ending in /v1)."""

    url: str
    model: str  # the engine's name for its model (transformers serve: the path or hub id it was given)
    api_key: str | None = field(default=None, repr=False)  # sent as a bearer token; never in messages
    timeout_seconds: float = 60.0  # connecting, and between two pieces of the answer
    flavor: EngineFlavor = "openai"  # which sampling fields beyond OpenAI's the engine takes

    @property
    def shown_url(self) -> str:
        """The URL without any user:password part, for messages."""
        parts = urlsplit(self.url.rstrip("/"))
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def generate_on_engine(
    request: GenerateTextRequest,
    engine: Engine,
    progress: Progress | None = None,
    *,
    limits: TextLimits | None = None,
) -> GenerateTextResult:
    """Continue request.prompt (or answer request.messages) on `engine`; see the module docstring.

    Raises LimitExceededError (as in-process), InvalidInputError (an option that needs the model
    in-process, a sampling field this engine flavor cannot take), EngineError.
    """
    _check_limits(request, limits or TextLimits())
    body, seed = _body(request, engine)
    path = "/completions" if request.prompt is not None else "/chat/completions"
    url = engine.url.rstrip("/") + path
    shown = engine.shown_url + path
    text, pieces = "", 0
    usage: dict[str, Any] = {}
    finish: FinishReason | None = None
    stop_string: str | None = None
    start = time.perf_counter()
    with open_stream(
        url, shown, body, api_key=engine.api_key, timeout_seconds=engine.timeout_seconds
    ) as events:
        for event in events:
            usage = event.get("usage") or usage
            choice = _choice(event, shown)
            if choice is None:
                continue
            piece = (choice.get("delta") or {}).get("content") if "delta" in choice else choice.get("text")
            if piece and stop_string is None:
                text += piece
                pieces += 1
                stop_string = _first_stop(text, request.stop)
                if stop_string is not None:
                    # Read on: the engine was sent the same stop strings and ends the stream itself,
                    # with the usage figures in its last event.
                    text = text[: text.find(stop_string)]
                    finish = "stop"
                elif progress is not None:
                    try:
                        progress(pieces, request.max_new_tokens)
                    except WorkCancelledError:
                        finish = "cancelled"
                        break  # leaving the block closes the stream: the engine stops generating
            reason = choice.get("finish_reason")
            if reason and finish is None:
                finish, stop_string = _finish(reason, choice, request.stop)
    seconds = time.perf_counter() - start
    if finish is None:
        raise EngineError(f"the stream from {shown} ended without a finish_reason", setting="text.engine_url")
    if progress is not None and finish in ("eos", "stop"):
        progress(request.max_new_tokens, request.max_new_tokens)
    completion_tokens = int(usage.get("completion_tokens") or pieces)
    return GenerateTextResult(
        text=text,
        finish_reason=finish,
        stop_string=stop_string,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=completion_tokens,
        seconds=seconds,
        tokens_per_second=completion_tokens / seconds if seconds > 0 else 0.0,
        model=str(request.model or engine.model),
        seed=seed,
        prompt_format="text" if request.prompt is not None else "chat_template",
        use_cache=True,
        prompt_truncated_tokens=0,
    )


def _body(request: GenerateTextRequest, engine: Engine) -> tuple[dict[str, Any], int | None]:
    """The JSON body for `request` on `engine`, and the seed it samples with (None: greedy)."""
    where = f"text generation runs on the inference engine at {engine.shown_url}"
    if request.adapter is not None:
        raise InvalidInputError(f"adapters run in-process only, and {where}")
    if request.truncate_prompt or not request.use_cache:
        raise InvalidInputError(
            f"truncate_prompt and use_cache=false need the model in-process, and {where} "
            "(it caches keys and values itself; a prompt longer than its context is its error)"
        )
    body: dict[str, Any] = {
        "model": request.model or engine.model,
        "max_tokens": request.max_new_tokens,
        "temperature": request.temperature,
        "stream": True,
    }
    if request.prompt is not None:
        body["prompt"] = request.prompt
    else:
        body["messages"] = [m.model_dump() for m in request.messages or ()]
    if request.stop:
        body["stop"] = list(request.stop)
    seed = None
    if request.temperature > 0:
        seed = request.seed if request.seed is not None else secrets.randbits(31)
        body["seed"] = seed
        if request.top_p < 1:
            body["top_p"] = request.top_p
        if engine.flavor == "vllm":
            body["top_k"] = request.top_k or -1  # vLLM's "all tokens"
        elif request.top_k != DEFAULT_TOP_K:
            raise _unsendable("top_k", request.top_k, DEFAULT_TOP_K, engine)
    if request.repetition_penalty != 1.0:
        if engine.flavor == "vllm":
            body["repetition_penalty"] = request.repetition_penalty
        elif engine.flavor == "transformers":
            body["frequency_penalty"] = request.repetition_penalty - 1.0
        else:
            raise _unsendable("repetition_penalty", request.repetition_penalty, 1.0, engine)
    # OpenAI, vLLM and Ollama put usage in a stream only when asked; transformers serve always does
    # (and accepts the field with a warning that it ignores it).
    body["stream_options"] = {"include_usage": True}
    return body, seed


def _unsendable(name: str, value: float, default: float, engine: Engine) -> InvalidInputError:
    return InvalidInputError(
        f"{name}={value:g} cannot be sent to the inference engine at {engine.shown_url} (flavor "
        f"{engine.flavor!r}: OpenAI's API has no such field); leave it at {default:g}, or use the flavor "
        "'vllm' for an engine that takes it",
        setting="text.engine_flavor",
    )


def _choice(event: dict[str, Any], shown: str) -> dict[str, Any] | None:
    choices = event.get("choices")
    if choices is None or choices == []:
        return None  # a usage-only event (stream_options.include_usage)
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise malformed(shown, "choices that are not a list of objects")
    choice: dict[str, Any] = choices[0]
    return choice


def _finish(reason: str, choice: dict[str, Any], stops: list[str]) -> tuple[FinishReason, str | None]:
    """The engine's finish_reason as generate_text's, with the stop string if it says which."""
    if reason == "length":
        return "length", None
    # OpenAI's "stop" covers both a natural end and a stop string (already cut from the text by
    # the engine); vLLM names the string in stop_reason, others leave it unsaid.
    matched = choice.get("stop_reason")
    if isinstance(matched, str) and matched in stops:
        return "stop", matched
    return "eos", None
