"""Host configuration: the `mcpServers` JSON that Claude Desktop and Cursor use, or VS Code's `servers`.

    {
      "mcpServers": {
        "genai":  {"command": "genai-mcp", "args": ["serve"], "env": {"HF_HUB_OFFLINE": "1"},
                   "sampling": {"backend": "local"}},
        "remote": {"url": "http://127.0.0.1:8000/mcp",
                   "headers": {"Authorization": "Bearer ${GENAI_TOKEN}"}, "protocol": "legacy"}
      },
      "defaults": {"elicitation": {"mode": "decline"}, "log_level": "warning"}
    }

Every string value may use `${VAR}`, `${env:VAR}` (VS Code, Cursor) or `${VAR:-fallback}`, so tokens
stay out of files; an unset variable without a fallback is an error that names it. A stdio server
does not inherit the host's environment (the SDK passes only HOME, PATH, SHELL, TERM, LOGNAME,
USER): list in `env` what it needs. Keys under `defaults` apply to every server that does not set
them. Unknown keys are errors, so a typo cannot silently drop a setting.

A stdio server's stderr goes where its `stderr` says: `inherit` (the host's own stderr, where the
server's log lines show beside the host's output) or `file` (`<log dir>/<name>.log`, appended to on
every start; the host names it, with its last lines, when the server fails to start or dies). The
default is `file` when the entry (or `defaults`) sets `log_level`, since the host then shows the
server's logs itself, as MCP log messages, and the same records on its terminal would read twice;
otherwise `inherit`, so a server whose only logs are its stderr keeps them in view.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from genai_mcp.client.errors import ConfigError

__all__ = [
    "ElicitationConfig",
    "HostConfig",
    "LogLevel",
    "SamplingConfig",
    "ServerConfig",
    "StderrMode",
    "expand_env",
    "load_config",
]

StderrMode = Literal["inherit", "file"]
LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]

_STRICT = ConfigDict(extra="forbid")
_VAR = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class SamplingConfig(BaseModel):
    """How the host answers a server's request to sample an LLM."""

    model_config = _STRICT

    backend: Literal["none", "local", "openai", "human"] = Field(
        "none",
        description="none: declare no sampling; local: a causal LM via genai_mcp.tools; "
        "openai: an OpenAI-compatible chat-completions endpoint; human: type the answer at the terminal",
    )
    model: str | None = Field(
        None, description="local: HF id or directory (default: house model); openai: model name"
    )
    url: str | None = Field(None, description="openai: base URL, e.g. https://api.openai.com/v1")
    api_key: SecretStr | None = Field(None, description="openai: bearer key; use ${VAR}")
    approval: Literal["none", "terminal"] = Field(
        "none", description="terminal: show each request and ask before the LLM sees it"
    )
    max_tokens: int = Field(512, ge=1, le=32768, description="Cap on tokens a server may ask for")
    temperature: float | None = Field(None, ge=0, le=2, description="Used when the server sets none")
    seed: int | None = Field(None, description="local, openai: sampling seed, for reproducible answers")
    timeout: float = Field(120.0, gt=0, description="openai: seconds per HTTP request")

    @model_validator(mode="after")
    def _backend_needs(self) -> SamplingConfig:
        if self.backend == "openai" and (not self.url or not self.model):
            raise ValueError("the openai backend needs 'url' (e.g. https://api.openai.com/v1) and 'model'")
        return self


class ElicitationConfig(BaseModel):
    """How the host answers a server's request for user input."""

    model_config = _STRICT

    mode: Literal["auto", "terminal", "decline", "cancel", "answers"] = Field(
        "auto",
        description="auto: terminal when stdin is a terminal, else decline (saying so on the terminal's "
        "output, with the `answers` that would accept); answers: accept with `answers`",
    )
    answers: dict[str, Any] = Field(
        default_factory=dict, description="Field values for mode 'answers'; schema defaults fill the rest"
    )


class ServerConfig(BaseModel):
    """One server: stdio (`command`, `args`, `env`, `cwd`) or streamable HTTP (`url`, `headers`)."""

    model_config = _STRICT

    type: Literal["stdio", "http", "streamable-http", "streamableHttp"] | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    # Values of env and headers are where tokens go: kept as secrets, out of reprs and logs.
    env: dict[str, SecretStr] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    protocol: Literal["auto", "legacy"] = Field(
        "auto", description="auto: 2026-07-28 when the server speaks it; legacy: 2025-11-25 push requests"
    )
    timeout: float | None = Field(None, gt=0, description="Default seconds per call (none: no limit)")
    connect_timeout: float = Field(30.0, gt=0, description="Seconds to start and initialize")
    log_level: LogLevel = Field("info", description="Lowest server log level forwarded to Python logging")
    stderr: StderrMode | None = Field(
        None,
        description="stdio: inherit (the host's stderr) or file (<log dir>/<name>.log); "
        "default: file when log_level is set, else inherit; ignored for url servers",
    )
    sampling: SamplingConfig = Field(default_factory=lambda: SamplingConfig())
    elicitation: ElicitationConfig = Field(default_factory=lambda: ElicitationConfig())
    disabled: bool = False

    @model_validator(mode="after")
    def _one_transport(self) -> ServerConfig:
        if self.command is None and self.url is None:
            raise ValueError("needs 'command' (a stdio server) or 'url' (a streamable HTTP server)")
        if self.command is not None and self.url is not None:
            raise ValueError("has both 'command' and 'url'; a server is either stdio or HTTP")
        if self.type == "stdio" and self.command is None:
            raise ValueError("type 'stdio' needs 'command'")
        if self.type not in (None, "stdio") and self.url is None:
            raise ValueError(f"type {self.type!r} needs 'url'")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("'args', 'env' and 'cwd' apply to stdio servers, not to a 'url' server")
        if self.command is not None and self.headers:
            raise ValueError("'headers' apply to HTTP servers, not to a 'command' server")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must start with http:// or https://")
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    @property
    def stderr_mode(self) -> StderrMode:
        """Where a stdio server's stderr goes: `stderr` if set, else file once `log_level` is set."""
        if self.stderr is not None:
            return self.stderr
        return "file" if "log_level" in self.model_fields_set else "inherit"


class HostConfig(BaseModel):
    """All servers by name; a name is the prefix of its tools and prompts (`name.tool`)."""

    model_config = _STRICT

    servers: dict[str, ServerConfig]


def expand_env(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """`value` with `${VAR}` references in every string replaced from `env`, recursively."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            body = match.group(1)
            parsed = _NAME.fullmatch(body)
            if parsed is None:
                raise ConfigError(
                    f"{where}: cannot expand ${{{body}}}; use ${{VAR}}, ${{env:VAR}} or ${{VAR:-fallback}}"
                )
            name, fallback = parsed.group(1), parsed.group(2)
            if name in env:
                return env[name]
            if fallback is not None:
                return fallback
            raise ConfigError(f"{where}: environment variable {name} is not set (referenced as ${{{body}}})")

        return _VAR.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: expand_env(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _read(source: str | os.PathLike[str]) -> tuple[Any, str]:
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text), str(path)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _describe(exc: ValidationError, servers_key: str, origin: str) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        if loc and loc[0] == "servers":
            loc[0] = servers_key
        *parent, last = loc or ["?"]
        if error["type"] == "extra_forbidden":
            problems.append(f"{'.'.join(parent)}: unknown key {last!r}")
        elif error["type"] == "missing":
            problems.append(f"{'.'.join(parent)}: missing key {last!r}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{'.'.join(loc)}: {message}")
    return f"invalid config {origin}: " + "; ".join(problems)


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any], env: Mapping[str, str] | None = None
) -> HostConfig:
    """The validated configuration from a JSON file path or an already-parsed dict.

    Raises ConfigError naming the file and the key path for unreadable files, bad JSON,
    unknown keys, missing `command`/`url`, and unset `${VAR}` references.
    """
    env = os.environ if env is None else env
    if isinstance(source, Mapping):
        raw, origin = dict(source), "(dict)"
    else:
        raw, origin = _read(source)
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config {origin}: the top level must be a JSON object")
    known = {"mcpServers", "servers", "defaults", "inputs"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"invalid config {origin}: unknown top-level key {unknown[0]!r} "
            "(allowed: mcpServers or servers, defaults, inputs)"
        )
    keys = [k for k in ("mcpServers", "servers") if k in raw]
    if len(keys) != 1:
        raise ConfigError(
            f"invalid config {origin}: needs exactly one of 'mcpServers' (Claude Desktop, Cursor) "
            "or 'servers' (VS Code)"
        )
    servers_key = keys[0]
    servers = raw[servers_key]
    defaults = raw.get("defaults", {})
    for key, value in ((servers_key, servers), ("defaults", defaults)):
        if not isinstance(value, dict):
            raise ConfigError(f"invalid config {origin}: {key!r} must be an object")
    merged: dict[str, Any] = {}
    for name, entry in servers.items():
        if not name or "." in name or name != name.strip():
            raise ConfigError(
                f"invalid config {origin}: server name {name!r} must be non-empty, without spaces at the "
                "ends, and without '.' (the separator in 'server.tool')"
            )
        if not isinstance(entry, dict):
            raise ConfigError(f"invalid config {origin}: {servers_key}.{name} must be an object")
        merged[name] = {**defaults, **entry}
    try:
        expanded = expand_env(merged, env, servers_key)
    except ConfigError as exc:
        raise ConfigError(f"invalid config {origin}: {exc}") from None
    try:
        config = HostConfig.model_validate({"servers": expanded})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, servers_key, origin)) from None
    return config
