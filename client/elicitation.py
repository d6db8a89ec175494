"""Answering a server's elicitation: a terminal form built from the requested schema, or a policy.

MCP form schemas are flat objects whose properties are strings (optionally with `enum`, or
`oneOf` of `const`/`title` pairs), numbers, integers, booleans, or arrays of enum strings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from genai_mcp.client.config import ElicitationConfig
from genai_mcp.client.terminal import Terminal

__all__ = [
    "FormField",
    "answer_from_policy",
    "ask_form",
    "form_fields",
    "make_elicitation_callback",
    "no_terminal_note",
]

logger = logging.getLogger("genai_mcp.client")

Value = str | int | float | bool | list[str] | None


@dataclass(frozen=True)
class FormField:
    """One property of a requested schema, as the form asks for it."""

    name: str
    kind: str  # string | number | integer | boolean | array
    required: bool
    default: Any = None
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def label(self) -> str:
        if self.choices:
            what = ("any of " if self.kind == "array" else "one of ") + ", ".join(self.choices)
        else:
            what = self.kind
        extra = "required" if self.required and self.default is None else None
        if self.default is not None:
            extra = f"default {_show(self.default)}"
        text = f"{self.name} ({what}{'; ' + extra if extra else ''})"
        return f"{text}: {self.description}" if self.description else text

    def parse(self, text: str) -> Value:
        """The typed value of `text`; ValueError says what was expected."""
        text = text.strip()
        if self.kind == "boolean":
            lowered = text.lower()
            if lowered in ("y", "yes", "true", "1"):
                return True
            if lowered in ("n", "no", "false", "0"):
                return False
            raise ValueError("expected yes or no")
        if self.kind in ("integer", "number"):
            try:
                number: int | float = int(text) if self.kind == "integer" else float(text)
            except ValueError:
                raise ValueError(
                    f"expected {'an integer' if self.kind == 'integer' else 'a number'}"
                ) from None
            if self.minimum is not None and number < self.minimum:
                raise ValueError(f"must be at least {_show(self.minimum)}")
            if self.maximum is not None and number > self.maximum:
                raise ValueError(f"must be at most {_show(self.maximum)}")
            return number
        if self.kind == "array":
            items = [item.strip() for item in text.split(",") if item.strip()]
            bad = [item for item in items if self.choices and item not in self.choices]
            if bad:
                raise ValueError(f"{bad[0]!r} is not one of {', '.join(self.choices)}")
            return items
        if self.choices and text not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}")
        return text

    def check(self, value: Any) -> Value:
        """`value` (from JSON config) checked against this field; ValueError if it does not fit."""
        if self.kind == "array":
            if not isinstance(value, list):
                raise ValueError("expected a list")
            return self.parse(",".join(map(str, value)))
        if self.kind == "boolean" and not isinstance(value, bool):
            raise ValueError("expected true or false")
        if self.kind in ("integer", "number") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise ValueError("expected a number")
        return self.parse(str(value).lower() if isinstance(value, bool) else str(value))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """The fields of a requested schema, in the server's order."""
    required = set(schema.get("required", []))
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "string")
        choices: list[Any] = list(prop.get("enum") or [c.get("const") for c in prop.get("oneOf", [])])
        if kind == "array":
            items = prop.get("items") or {}
            choices = list(items.get("enum") or [c.get("const") for c in items.get("anyOf", [])])
        fields.append(
            FormField(
                name=name,
                kind=kind,
                required=name in required,
                default=prop.get("default"),
                description=prop.get("description") or prop.get("title") or "",
                choices=tuple(str(c) for c in choices),
                minimum=prop.get("minimum"),
                maximum=prop.get("maximum"),
            )
        )
    return fields


async def ask_form(terminal: Terminal, server: str, params: ElicitRequestParams) -> ElicitResult:
    """Ask at the terminal: accept / decline / cancel, then each field until its answer fits."""
    async with terminal.lock:
        terminal.say(f"\n[{server}] asks: {params.message}")
        if not isinstance(params, ElicitRequestFormParams):
            terminal.say(f"  It asks you to open: {params.url}")
            ok = await terminal.confirm("  Open it and continue?")
            return ElicitResult(action="accept" if ok else "decline")
        fields = form_fields(params.requested_schema)
        for field in fields:
            terminal.say(f"  - {field.label()}")
        while True:
            choice = await terminal.ask("Answer? [a]ccept, [d]ecline, [c]ancel (default a): ")
            if choice is None:
                return ElicitResult(action="cancel")
            choice = choice.strip().lower() or "a"
            if choice in ("d", "decline"):
                return ElicitResult(action="decline")
            if choice in ("c", "cancel"):
                return ElicitResult(action="cancel")
            if choice in ("a", "accept"):
                break
        content: dict[str, Value] = {}
        for field in fields:
            while True:
                text = await terminal.ask(f"  {field.label()}: ")
                if text is None:
                    return ElicitResult(action="cancel")
                if not text.strip():
                    if field.default is not None:
                        content[field.name] = field.default
                        break
                    if not field.required:
                        break
                    terminal.say("  ! required")
                    continue
                try:
                    content[field.name] = field.parse(text)
                    break
                except ValueError as exc:
                    terminal.say(f"  ! {exc}")
        return ElicitResult(action="accept", content=content)


def answer_from_policy(server: str, config: ElicitationConfig, params: ElicitRequestParams) -> ElicitResult:
    """The non-interactive answer: decline, cancel, or accept with the configured answers.

    With `answers`, schema defaults fill missing fields; a required field that stays missing, or an
    answer of the wrong type, declines the request (and logs why) rather than sending bad data.
    """
    if config.mode != "answers" or not isinstance(params, ElicitRequestFormParams):
        return ElicitResult(action="cancel" if config.mode == "cancel" else "decline")
    content: dict[str, Value] = {}
    for field in form_fields(params.requested_schema):
        try:
            if field.name in config.answers:
                content[field.name] = field.check(config.answers[field.name])
            elif field.default is not None:
                content[field.name] = field.default
            elif field.required:
                raise ValueError("required, and no answer is configured")
        except ValueError as exc:
            logger.warning(
                "[%s] declined elicitation %r: field %r: %s", server, params.message, field.name, exc
            )
            return ElicitResult(action="decline")
    return ElicitResult(action="accept", content=content)


def no_terminal_note(server: str, params: ElicitRequestParams) -> str:
    """What the host prints when mode "auto" declines because nobody can answer: why, and how to answer.

    For a form, the suggested `answers` are its fields with their defaults, ready to paste into the config.
    """
    lines = [f"[{server}] asks: {params.message}"]
    lines.append("  Declined: no terminal to answer on (stdin is not a terminal).")
    if isinstance(params, ElicitRequestFormParams):
        example = {
            f.name: f.default if f.default is not None else f"<{f.kind}>"
            for f in form_fields(params.requested_schema)
        }
        answers = json.dumps({"mode": "answers", "answers": example})
        lines.append(
            f'  To answer without a terminal, give server {server!r} "elicitation": {answers} in the host '
            "config (these are the form's defaults; fields left out take them), "
            'or "elicitation": {"mode": "terminal"} to read the answers from stdin.'
        )
    else:
        lines.append(
            f'  It asks you to open: {params.url}; "elicitation": {{"mode": "terminal"}} reads the answer from stdin.'
        )
    return "\n".join(lines)


def make_elicitation_callback(server: str, config: ElicitationConfig, terminal: Terminal) -> ElicitationFnT:
    """The SDK callback for one server: the terminal form or the configured policy."""

    async def on_elicit(
        context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        if config.mode == "terminal" or (config.mode == "auto" and terminal.interactive):
            result = await ask_form(terminal, server, params)
        elif config.mode == "auto":  # nobody to ask: decline, and say so where a person will look
            async with terminal.lock:
                terminal.say(no_terminal_note(server, params))
            result = ElicitResult(action="decline")
        else:
            result = answer_from_policy(server, config, params)
        logger.info("[%s] elicitation %r answered: %s", server, params.message, result.action)
        return result

    return on_elicit
