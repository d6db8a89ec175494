"""Hugging Face hub access: a hub id becomes a local snapshot folder, the one way every loader gets one.

    hub_snapshot(request, what="model", argument="model", note="") -> Path
    cached_snapshot(repo, cache_dir) -> Path | None     the local cache only, never the network

Downloads off (`request.allow_downloads` False): the snapshot comes from the local Hugging Face
cache only (`request.hub_cache_dir`, None: the library's default, HF_HUB_CACHE), and a miss fails
at once with no network retries. Downloads on: the files a checkpoint needs are fetched into that
same cache (weights as safetensors first, .bin only when a repo has none); a copy already there is
used as is when the hub cannot be reached. Nothing here runs code from a repository.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from genai_mcp.tools.errors import ModelUnavailableError
from genai_mcp.tools.models.bundle import LoadRequest

__all__ = ["cached_snapshot", "first_line", "hub_snapshot"]

logger = logging.getLogger(__name__)

# Files worth fetching for a checkpoint: configs, tokenizers, weights; never other formats' copies.
_CONFIG_PATTERNS = ["*.json", "*.txt", "*.model", "*.tiktoken"]
_SKIP_PATTERNS = ["*.fp16.*", "*non_ema*", "onnx/*", "openvino/*", "*.msgpack", "*.h5", "*.ot", "*.tflite"]


def hub_snapshot(
    request: LoadRequest, *, what: str = "model", argument: str = "model", note: str = ""
) -> Path:
    """The local folder of hub id `request.model_id`.

    `what` names the model in messages ("model", "reranker", "embedding model"), `argument` is the
    parameter a local directory could be passed as instead, and `note` ends the offline-miss message
    (e.g. which house model serves the task). Raises ModelUnavailableError saying how to fix it;
    an offline miss carries the setting key "models.allow_downloads" and ends "or allow downloads.",
    where a server says how it allows them.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo, cache = request.model_id, request.hub_cache_dir
    if not request.allow_downloads:
        try:
            return Path(snapshot_download(repo, cache_dir=cache, local_files_only=True))
        except LocalEntryNotFoundError:
            where = f" ({cache})" if cache is not None else ""
            raise ModelUnavailableError(
                f"{what} {repo!r} is not in the local Hugging Face cache{where} and downloads are off."
                f"{note} To use {repo!r}, download it on a machine with network access "
                f"(`hf download {repo}`) and pass its local directory as {argument}, or allow downloads.",
                setting="models.allow_downloads",
            ) from None
    logger.info("fetching %s %s from the Hugging Face hub (or checking its cached copy)", what, repo)
    started = time.perf_counter()
    try:
        folder = Path(
            snapshot_download(
                repo,
                cache_dir=cache,
                allow_patterns=[*_CONFIG_PATTERNS, "*.safetensors"],
                ignore_patterns=_SKIP_PATTERNS,
            )
        )
        if not any(folder.rglob("*.safetensors")):
            folder = Path(
                snapshot_download(
                    repo, cache_dir=cache, allow_patterns=["*.bin"], ignore_patterns=_SKIP_PATTERNS
                )
            )
    except (RepositoryNotFoundError, GatedRepoError):
        raise ModelUnavailableError(
            f"{what} {repo!r} was not found on the Hugging Face hub (or it is gated or private); "
            f"check the id, or pass a local directory as {argument}"
        ) from None
    except Exception as exc:  # network errors come from several libraries (httpx, OSError, ...)
        raise ModelUnavailableError(
            f"downloading the {what} {repo!r} failed: {first_line(exc)}; retry, or download it elsewhere "
            f"and pass its local directory as {argument}"
        ) from exc
    files = [f for f in folder.rglob("*") if f.is_file()]
    size, seconds = sum(f.stat().st_size for f in files), time.perf_counter() - started
    logger.info(
        "hub snapshot of %s ready: %d files, %.1f MB, in %.1f s",
        repo,
        len(files),
        size / 1e6,
        seconds,
        extra={"figures": {"id": repo, "files": len(files), "bytes": size, "seconds": round(seconds, 3)}},
    )
    return folder


def cached_snapshot(repo: str, cache_dir: str | None) -> Path | None:
    """The folder of hub id `repo` in the local Hugging Face cache (`cache_dir`, None: the library's
    default), or None when it is not there. Never touches the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo, cache_dir=cache_dir, local_files_only=True))
    except LocalEntryNotFoundError:
        return None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if empty), at most 300 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
