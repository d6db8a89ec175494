"""Server settings: defaults, overridden by GENAI_MCP_* environment variables, then by CLI flags.

Every limit on what one call may ask for that an operator may want to change (sizes, counts,
steps, tokens) is a setting here, so it is raised without a code change; its default is the one
the domain declares (tools/limits.py), and a refusal names the variable (server/limits.py maps
the domain's keys to these fields). Fixed bounds of the tools' schemas (top_k, labels, templates,
the id and name lengths, seeds) are constants of tools/ and show in each tool's input schema.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from genai_mcp.server.limits import ENV_PREFIX, SETTINGS
from genai_mcp.tools.limits import defaults

__all__ = [
    "ENV_PREFIX",
    "MIN_REQUEST_STATE_KEY_BYTES",
    "MIN_TOKEN_LENGTH",
    "ServerSettings",
    "SettingsError",
    "is_loopback",
]


# Short bearer tokens are guessable; refusing them at start-up beats finding out from an access log.
MIN_TOKEN_LENGTH = 16
_SHORT_TOKEN = (
    "{token} is shorter than {limit} characters; use a random one, e.g. "
    "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


# The SDK's AES-GCM request-state codec derives its key from at least 32 bytes of secret.
MIN_REQUEST_STATE_KEY_BYTES = 32
_SHORT_KEY = (
    "{key} is shorter than {limit} bytes; use a random one, e.g. "
    "python -c 'import secrets; print(secrets.token_hex(32))'"
)


_DEFAULTS = defaults()


def _default(field: str) -> int:
    """The domain's default for the limit this settings field sets (defined once, in tools/)."""
    (key,) = [k for k, f in SETTINGS.items() if f == field]
    value = _DEFAULTS[key]
    assert isinstance(value, int), (key, value)  # every limit a setting raises is a count or a size
    return value


class SettingsError(ValueError):
    """A setting (from the environment, a file or a flag) is invalid; the message names it."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secrets_from_file(path: Path | None, kind: str, min_length: int, short: str) -> list[SecretStr]:
    """The secrets of `path`, one a line (blank lines and #-comments skipped), each checked for length."""
    if path is None:
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SettingsError(f"cannot read {kind} file {path}: {exc.strerror}") from None
    secrets: list[SecretStr] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        if len(line.strip().encode("utf-8")) < min_length:
            where = f"the {kind} on line {number} of {path}"
            raise SettingsError(short.format(token=where, key=where, limit=min_length))
        secrets.append(SecretStr(line.strip()))
    if not secrets:
        raise SettingsError(f"{kind} file {path} holds no {kind} (one per line)")
    return secrets


class ServerSettings(BaseModel):
    """How `genai-mcp serve` runs. Each field `x` is also read from the variable GENAI_MCP_X."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    transport: Literal["stdio", "http"] = "stdio"
    host: str = Field("127.0.0.1", description="HTTP bind address; non-loopback requires a token")
    port: int = Field(8000, ge=0, le=65535)
    tokens: list[SecretStr] = Field(
        default_factory=list, description="Bearer tokens accepted over HTTP (env: comma-separated)"
    )
    token_file: Path | None = Field(None, description="File with one bearer token per line")
    allow_unauthenticated: bool = Field(
        False, description="Serve HTTP on a non-loopback address without a token (on purpose only)"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header values accepted over HTTP (e.g. mcp.example.org:*)",
    )
    allowed_origins: list[str] = Field(default_factory=list, description="Extra Origin values accepted")
    public_url: str | None = Field(
        None, description="Base URL clients use to reach the server (for OAuth resource metadata)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # The secret that seals a tool call's request state between its rounds (Resolve: sampling,
    # elicitation) on 2026-07-28; replicas behind one load balancer must share it (README, Scaling out).
    request_state_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Request-state keys (env: comma-separated); the first seals, every one opens",
    )
    request_state_key_file: Path | None = Field(
        None, description="File with one request-state key per line, after those of REQUEST_STATE_KEYS"
    )

    # Streamable HTTP: the request body limit and the event store that makes SSE streams resumable
    max_request_bytes: int | None = Field(
        None,
        ge=1024,
        description="Largest HTTP request body, bytes (default: derived from the input limits, see limits.py)",
    )
    event_store_max_events: int = Field(50_000, ge=1, description="SSE events kept for resumption, in all")
    event_store_max_stream_events: int = Field(
        2_048, ge=1, description="SSE events kept per stream (one call's progress and result)"
    )
    event_store_max_bytes: int = Field(
        64 * 2**20, ge=1, description="Bytes of message JSON kept for resumption, in all"
    )
    event_store_max_age_seconds: float = Field(
        300.0, gt=0, description="How long an SSE event stays available for resumption"
    )
    sse_retry_ms: int = Field(
        2000, ge=0, description="The SSE retry a client waits before reconnecting a dropped stream, ms"
    )

    # Models
    allow_downloads: bool = Field(False, description="Let model ids be fetched from the Hugging Face hub")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    cache_max_models: int = Field(6, ge=1, description="Loaded models kept in memory")
    cache_max_bytes: int = Field(4 * 2**30, ge=1, description="Bytes of loaded weights kept in memory")
    torch_threads: int | None = Field(
        None, ge=1, description="CPU threads torch uses per operation (default: torch's, one per core)"
    )
    gc_freeze: bool = Field(
        True, description="After each model load, collect once and freeze the heap out of Python's gc"
    )
    work_niceness: int = Field(
        0,
        ge=0,
        le=19,
        description="How much lower (Linux nice) model work runs than the protocol's threads (0: off)",
    )
    # Concurrent single calls on the same model share one forward pass (tools/models/batching.py)
    batch_window_ms: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="How long a call waits for others to share its forward pass, ms (0: off)",
    )
    batch_max: int = Field(32, ge=1, description="Most images one shared forward pass takes")

    # The default model of each task, for calls that name none: a hub id, a local directory or a
    # house name; None keeps the built-in one. One that cannot be used is reported at start-up and
    # by the calls that need it; the server still serves everything else.
    classifier_model: str | None = Field(
        None, description="Default image classifier (classify_image, describe_image); house/vit-digits"
    )
    zero_shot_model: str | None = Field(
        None, description="Default CLIP-style model (zero_shot_classify, describe_image); house/clip-digits"
    )
    text_model: str | None = Field(
        None, description="Default causal LM (generate_text, perplexity, LoRA causal-lm); house/gpt2-pydocs"
    )
    diffusion_model: str | None = Field(
        None, description="Default UNet2DModel + scheduler (sample_images, denoise_image); house/ddpm-digits"
    )
    latent_model: str | None = Field(
        None,
        description="Default latent-diffusion pipeline (generate_image, edit_image, the VAE tools); house/ldm-digits",
    )
    embedding_model: str | None = Field(
        None,
        description="Sentence embedder of new RAG collections (existing ones keep theirs); all-MiniLM-L6-v2",
    )
    reranker_model: str | None = Field(
        None, description="Cross-encoder rag_search / rag_answer use when a call names none; none"
    )

    # generate_text on an OpenAI-compatible inference engine (tools/text/engine.py) instead of in-process
    text_engine_url: str | None = Field(
        None, description="Engine's base URL, e.g. http://127.0.0.1:8001/v1 (none: generate in-process)"
    )
    text_engine_model: str | None = Field(None, description="The engine's name for its model")
    text_engine_api_key: SecretStr | None = Field(None, description="Bearer key the engine wants, if any")
    text_engine_api_key_file: Path | None = Field(None, description="File holding that key (first line)")
    text_engine_timeout_seconds: float = Field(
        60.0, gt=0, description="Seconds to connect, and to wait for each next piece of the answer"
    )
    text_engine_flavor: Literal["openai", "vllm", "transformers"] = Field(
        "openai", description="Sampling fields beyond OpenAI's the engine takes (top_k, repetition penalty)"
    )

    # Files
    roots: list[Path] = Field(default_factory=list, description="Folders tools may read files from")
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "genai-mcp",
        description="Where outputs, adapters and indexes are written",
    )

    # Limits on what one call may ask for; each refusal names the variable that raises it.
    max_image_bytes: int = Field(
        _default("max_image_bytes"), ge=1, description="Largest encoded input image, bytes"
    )
    max_image_pixels: int = Field(
        _default("max_image_pixels"), ge=1, description="Largest decoded input image, pixels"
    )
    max_batch: int = Field(_default("max_batch"), ge=1, description="Images per classification call")
    anatomy_max_images: int = Field(
        _default("anatomy_max_images"), ge=1, description="Images per attention_map call"
    )
    allow_url_fetch: bool = Field(False, description="Let image inputs be http(s) URLs")
    max_new_tokens: int = Field(
        _default("max_new_tokens"), ge=1, description="Cap on tokens generated per call"
    )
    max_stop_strings: int = Field(
        _default("max_stop_strings"), ge=0, description="Stop strings per generation call"
    )
    max_text_chars: int = Field(
        _default("max_text_chars"), ge=1, description="Largest text for perplexity / prompts, chars"
    )
    max_diffusion_steps: int = Field(
        _default("max_diffusion_steps"), ge=1, description="Denoising steps per call"
    )
    max_num_images: int = Field(_default("max_num_images"), ge=1, description="Images per sampling call")
    latent_max_steps: int = Field(
        _default("latent_max_steps"), ge=1, description="Denoising steps per generate_image / edit_image call"
    )
    latent_max_images: int = Field(
        _default("latent_max_images"), ge=1, description="Images per generate_image / edit_image call"
    )
    latent_max_pixels: int = Field(
        _default("latent_max_pixels"), ge=64, description="Width x height of one latent-diffusion image"
    )
    latent_max_prompt_chars: int = Field(
        _default("latent_max_prompt_chars"), ge=1, description="Characters of a prompt or negative prompt"
    )
    latent_max_frames: int = Field(
        _default("latent_max_frames"), ge=2, description="Frames of interpolate_images / latent_arithmetic"
    )
    latent_max_set_images: int = Field(
        _default("latent_max_set_images"), ge=1, description="Images in each example set of latent_arithmetic"
    )
    preview_max_bytes: int = Field(1_000_000, ge=1024, description="Byte budget of an inline image preview")
    outputs_max_files: int = Field(
        _default("outputs_max_files"), ge=1, description="Generated files kept before pruning"
    )
    outputs_max_bytes: int = Field(
        _default("outputs_max_bytes"), ge=1, description="Bytes of generated files kept"
    )

    # LoRA fine-tuning (lora_finetune and the job tools)
    lora_max_examples: int = Field(
        _default("lora_max_examples"), ge=1, description="Examples (texts or images) in one dataset"
    )
    lora_max_text_chars: int = Field(
        _default("lora_max_text_chars"), ge=1, description="Characters of text in one dataset"
    )
    lora_max_steps: int = Field(
        _default("lora_max_steps"), ge=1, description="Optimizer steps in one fine-tuning job"
    )
    lora_max_rank: int = Field(_default("lora_max_rank"), ge=1, description="Largest LoRA rank")
    lora_max_batch_size: int = Field(
        _default("lora_max_batch_size"), ge=1, description="Largest training batch"
    )
    lora_wait_seconds: float = Field(
        20.0, ge=0, description="How long lora_finetune waits for its job before returning a job handle"
    )
    lora_max_queued: int = Field(
        _default("lora_max_queued"),
        ge=0,
        description="Jobs that may wait behind the running one (0: a second job is refused as busy)",
    )
    lora_jobs_kept: int = Field(100, ge=1, description="Finished jobs remembered for job_status/list_jobs")
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL for the fine-tuning jobs (queue and records) and the RAG collections, "
        "shared by replicas and workers on several machines (none: files under the data directory)",
    )
    job_worker: bool = Field(
        True,
        description="With a database: run one fine-tuning worker inside this server "
        "(false: this replica only queues jobs, for `genai-mcp worker` processes to train)",
    )

    # Retrieval (rag_* tools)
    rag_max_documents: int = Field(
        _default("rag_max_documents"), ge=1, description="Documents in one rag_index call"
    )
    rag_max_document_chars: int = Field(
        _default("rag_max_document_chars"), ge=1, description="Characters in one document"
    )
    rag_max_query_chars: int = Field(
        _default("rag_max_query_chars"), ge=1, description="Characters in one query"
    )
    rag_max_k: int = Field(_default("rag_max_k"), ge=1, description="Hits one search may return")
    rag_device: str | None = Field(
        None, description="Device for the embedding model (cpu, cuda, cuda:N); default: the device setting"
    )

    @field_validator("tokens", "request_state_keys", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value

    @field_validator("tokens")
    @classmethod
    def _long_tokens(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        # Refused here, before anything starts; the message names the position, never the token.
        for i, token in enumerate(tokens, 1):
            if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
                context = {"token": f"token #{i}", "limit": MIN_TOKEN_LENGTH}
                raise PydanticCustomError("token_too_short", _SHORT_TOKEN, context)
        return tokens

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL: postgresql://user[:password]@host:port/database")
        return url

    @field_validator("request_state_keys")
    @classmethod
    def _long_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for i, key in enumerate(keys, 1):
            if len(key.get_secret_value().encode("utf-8")) < MIN_REQUEST_STATE_KEY_BYTES:
                context = {"key": f"request-state key #{i}", "limit": MIN_REQUEST_STATE_KEY_BYTES}
                raise PydanticCustomError("request_state_key_too_short", _SHORT_KEY, context)
        return keys

    @field_validator(
        "classifier_model",
        "zero_shot_model",
        "text_model",
        "diffusion_model",
        "latent_model",
        "embedding_model",
        "reranker_model",
        mode="before",
    )
    @classmethod
    def _model_or_none(cls, value: Any, info: ValidationInfo) -> Any:
        # Checked when the server starts (a log line) and on use (a tool error), never refused here:
        # a default that cannot load must not keep the other tools from being served.
        if isinstance(value, str):
            value = value.strip()
            no_reranker = info.field_name == "reranker_model" and value.lower() == "none"
            return None if not value or no_reranker else value
        return value

    @model_validator(mode="after")
    def _outputs_outlive_a_call(self) -> ServerSettings:
        # Every image of one call must survive the output store's pruning until the caller reads it.
        if self.outputs_max_files < self.max_num_images:
            raise ValueError(
                f"{ENV_PREFIX}OUTPUTS_MAX_FILES ({self.outputs_max_files}) must be at least "
                f"{ENV_PREFIX}MAX_NUM_IMAGES ({self.max_num_images}): one call's images must outlive pruning"
            )
        # edit_image writes its input beside the images, interpolate_images its strip beside the frames.
        latent = max(self.latent_max_images, self.latent_max_frames) + 1
        if self.outputs_max_files < latent:
            raise ValueError(
                f"{ENV_PREFIX}OUTPUTS_MAX_FILES ({self.outputs_max_files}) must be at least {latent}, one more "
                f"than {ENV_PREFIX}LATENT_MAX_IMAGES ({self.latent_max_images}) and {ENV_PREFIX}LATENT_MAX_FRAMES "
                f"({self.latent_max_frames}): one call's images must outlive pruning"
            )
        return self

    @model_validator(mode="after")
    def _engine_is_complete(self) -> ServerSettings:
        # An OpenAI-style request must name the model; guessing one would send calls to the wrong model.
        if self.text_engine_url and not self.text_engine_model:
            raise ValueError(
                f"{ENV_PREFIX}TEXT_ENGINE_URL is set, so {ENV_PREFIX}TEXT_ENGINE_MODEL must name the "
                "engine's model (transformers serve: the path or hub id it serves; GET <url>/models lists them)"
            )
        if self.text_engine_api_key is not None and self.text_engine_api_key_file is not None:
            raise ValueError(
                f"set {ENV_PREFIX}TEXT_ENGINE_API_KEY or {ENV_PREFIX}TEXT_ENGINE_API_KEY_FILE, not both"
            )
        return self

    def text_engine_key(self) -> str | None:
        """The engine's API key, from text_engine_api_key or the first line of text_engine_api_key_file."""
        if self.text_engine_api_key is not None:
            return self.text_engine_api_key.get_secret_value()
        if self.text_engine_api_key_file is None:
            return None
        try:
            lines = self.text_engine_api_key_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SettingsError(
                f"cannot read the engine key file {self.text_engine_api_key_file}: {exc.strerror}"
            ) from None
        if not lines or not lines[0].strip():
            raise SettingsError(f"the engine key file {self.text_engine_api_key_file} is empty")
        return lines[0].strip()

    @field_validator("allowed_hosts", "allowed_origins", "roots", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            sep = os.pathsep if "\n" not in value and os.pathsep in value else ","
            return [v.strip() for v in value.split(sep) if v.strip()]
        return value

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> ServerSettings:
        """Settings from `env` (default os.environ) with `overrides` (CLI flags, not None) on top."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                if e["loc"]
                else e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from None
        settings.tokens = settings.tokens + settings._tokens_from_file()
        keys = _secrets_from_file(
            settings.request_state_key_file, "request-state key", MIN_REQUEST_STATE_KEY_BYTES, _SHORT_KEY
        )
        settings.request_state_keys = settings.request_state_keys + keys
        return settings

    def _tokens_from_file(self) -> list[SecretStr]:
        return _secrets_from_file(self.token_file, "token", MIN_TOKEN_LENGTH, _SHORT_TOKEN)

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def rag_dir(self) -> Path:
        return self.data_dir / "rag"

    @property
    def jobs_file(self) -> Path:
        """The fine-tuning job records (SQLite), kept across restarts."""
        return self.data_dir / "jobs.sqlite3"
