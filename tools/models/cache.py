"""ModelCache: the bounded, thread-safe, single-flight store of loaded models of every kind.

Keys are (task, resolved model id, device, dtype, revision). Checkpoint tasks (TASKS) load through
`get` with from_pretrained (loaders.py); other kinds (sentence embedders, cross-encoder rerankers,
adapter-merged models) bring their own loader to `load`, and are entries like any other: listed by
`loaded()`, counted against both bounds, evicted least-recently-used first. Entries are evicted
whenever there are more than `max_models` or their `nbytes` add up to more than `max_bytes`; the
entry just loaded is never evicted by its own arrival, so a model larger than `max_bytes` is kept
alone rather than reloaded on every call. A new revision of an id (an adapter saved again under
its name) replaces the entry of the old one. Two threads asking for the same missing key share one
load (the second waits for the first); loads of other keys run alongside it. A failed load leaves
nothing behind: the next call tries again.

A call that names no model gets the task's default: the operator's choice (`defaults`, one model per
task, see defaults.py) or else the built-in one. A chosen default that cannot be used fails with an
error carrying the key of the setting that chose it; `check_default` finds that out at start-up from
the files alone, without loading weights.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_mcp.tools.errors import InvalidInputError, ModelUnavailableError
from genai_mcp.tools.models.bundle import LoadedInfo, LoadRequest, ModelBundle
from genai_mcp.tools.models.defaults import (
    DEFAULT_MODEL_KEYS,
    builtin_default,
    default_unavailable,
    folder_problem,
)
from genai_mcp.tools.models.resolve import (
    ResolvedModel,
    resolve_device,
    resolve_dtype,
    resolve_model,
    resolve_task,
)

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_MODELS", "Loader", "ModelCache"]

DEFAULT_MAX_MODELS = 6
DEFAULT_MAX_BYTES = 4 * 2**30

Loader = Callable[[LoadRequest], ModelBundle]
Key = tuple[str, str, str, str, str]  # LoadRequest.key: task, model id, device, dtype, revision

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    bundle: ModelBundle
    hits: int = 0


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    bundle: ModelBundle | None = None
    error: BaseException | None = None
    waiters: int = 0  # threads waiting on this load besides the one doing it


def _default_loader(request: LoadRequest) -> ModelBundle:
    from genai_mcp.tools.models.loaders import load_checkpoint

    return load_checkpoint(request)


class ModelCache:
    """Loads models on first use and keeps the most recently used ones.

    `device` is the default for calls that pass none ("auto": cuda if torch sees one, else cpu).
    `allow_downloads=False` (the default) never touches the network: hub ids load only from the
    local Hugging Face cache (`hub_cache_dir`, default HF_HUB_CACHE). `local_roots`, when given,
    confines local model directories to those folders. `loader` is the function `get` turns a
    LoadRequest into a ModelBundle with (the real one uses from_pretrained; tests may count calls).
    `defaults` {task: model id or directory} are the models calls that name none get (tasks of
    DEFAULT_MODEL_KEYS; others keep their built-in defaults). Each cache is its own: two servers in
    one process each hold one. `freeze_gc=True` (a server turns it on; off for library users) runs
    `gc.collect(); gc.freeze()` in the loading thread after each load, see `_freeze_heap`.
    """

    def __init__(
        self,
        *,
        max_models: int = DEFAULT_MAX_MODELS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allow_downloads: bool = False,
        device: str = "auto",
        local_roots: Sequence[str | Path] | None = None,
        hub_cache_dir: str | Path | None = None,
        loader: Loader | None = None,
        defaults: Mapping[str, str] | None = None,
        freeze_gc: bool = False,
    ) -> None:
        unknown = sorted(set(defaults or {}) - set(DEFAULT_MODEL_KEYS))
        if unknown:
            raise InvalidInputError(
                f"no default model can be chosen for {', '.join(unknown)}; tasks: {', '.join(DEFAULT_MODEL_KEYS)}"
            )
        self.defaults: dict[str, str] = dict(defaults or {})
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._flights: dict[Key, _Flight] = {}
        self._loader = loader or _default_loader
        self.max_models = max_models
        self.max_bytes = max_bytes
        self.allow_downloads = allow_downloads
        self.device = device
        self.local_roots = local_roots
        self.hub_cache_dir = hub_cache_dir
        self.freeze_gc = freeze_gc
        self.configure(max_models=max_models, max_bytes=max_bytes, device=device)

    def configure(
        self,
        *,
        max_models: int | None = None,
        max_bytes: int | None = None,
        allow_downloads: bool | None = None,
        device: str | None = None,
    ) -> None:
        """Change the bounds or defaults; lowering a bound evicts at once. None leaves a value as is."""
        for name, value in (("max_models", max_models), ("max_bytes", max_bytes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidInputError(f"{name} must be an integer of at least 1, not {value!r}")
        if device is not None and device.strip().lower() not in ("auto", "cpu"):
            resolve_device(device)  # refuse a bad default now rather than on every later call
        with self._lock:
            if max_models is not None:
                self.max_models = max_models
            if max_bytes is not None:
                self.max_bytes = max_bytes
            if allow_downloads is not None:
                self.allow_downloads = bool(allow_downloads)
            if device is not None:
                self.device = device
            self._evict(keep=None)

    def get(
        self, task: str, model: str | None = None, *, device: str | None = None, dtype: str | None = None
    ) -> ModelBundle:
        """The bundle of checkpoint task `task` (TASKS) for (model, device, dtype), loaded on first use.

        Raises InvalidInputError for malformed arguments and ModelUnavailableError when the model
        cannot be found or is not a checkpoint for `task`; the message says how to fix it.
        """
        checked_task = resolve_task(task)
        dev = resolve_device(device or self.device)  # a bad device is the caller's, not the default's
        with self.using_default(checked_task, model) as name:
            return self.load(
                checked_task, self.resolve(checked_task, name), self._loader, device=dev, dtype=dtype
            )

    def resolve(self, task: str, model: str | None) -> ResolvedModel:
        """`model` checked and classified: a house name serving `task` (None: the task's default), a
        directory (within `local_roots` when set) or a hub id. Nothing is loaded."""
        roots = None if self.local_roots is None else [Path(r) for r in self.local_roots]
        return resolve_model(task, self.default(task) if model is None else model, local_roots=roots)

    def default(self, task: str) -> str | None:
        """The model a call to `task` that names none gets: the chosen default, else the built-in one
        (None: none, as for rerankers, or a task without defaults)."""
        if task in self.defaults:
            return self.defaults[task]
        return builtin_default(task) if task in DEFAULT_MODEL_KEYS else None

    def defaults_in_force(self) -> dict[str, str | None]:
        """{task: its default model (None: none)} for every task of DEFAULT_MODEL_KEYS."""
        return {task: self.default(task) for task in DEFAULT_MODEL_KEYS}

    @contextmanager
    def using_default(self, task: str, model: str | None) -> Iterator[str | None]:
        """`model`, or (None) the task's default; while the block resolves and loads a chosen default,
        its failures become default_unavailable errors, which name it and its setting key."""
        if model is not None or task not in self.defaults:
            yield self.default(task) if model is None else model
            return
        chosen = self.defaults[task]
        try:
            yield chosen
        except (InvalidInputError, ModelUnavailableError) as exc:
            raise default_unavailable(task, chosen, exc) from exc

    def check(self, task: str, model: ResolvedModel, problem: Callable[[Path], str | None]) -> None:
        """Whether `model` can serve `task`, judged without loading weights: `problem(folder)` reads
        the files of its folder (a house or local directory, or its snapshot in the local Hugging
        Face cache). ModelUnavailableError when it says what is wrong, or when a hub id is not in
        the local cache and downloads are off; a hub id that downloads would fetch passes."""
        from genai_mcp.tools.models.hub import cached_snapshot

        if model.source == "hub":
            cache_dir = None if self.hub_cache_dir is None else os.fspath(self.hub_cache_dir)
            folder = cached_snapshot(model.model_id, cache_dir)
            if folder is None:
                if self.allow_downloads:
                    return  # fetched on first use
                where = f" ({cache_dir})" if cache_dir is not None else ""
                raise ModelUnavailableError(
                    f"{model.model_id!r} is not in the local Hugging Face cache{where} and downloads are off",
                    setting="models.allow_downloads",
                )
        else:
            folder = Path(model.ref)
        found = problem(folder)
        if found is not None:
            raise ModelUnavailableError(f"{model.model_id} {found}")

    def check_default(self, task: str) -> None:
        """check() of the default of checkpoint task `task` (TASKS); a chosen default's failure is a
        default_unavailable error."""
        checked_task = resolve_task(task)
        with self.using_default(checked_task, None) as name:
            self.check(
                checked_task, self.resolve(checked_task, name), lambda f: folder_problem(checked_task, f)
            )

    def load(
        self,
        task: str,
        model: ResolvedModel,
        loader: Loader,
        *,
        device: str | None = None,
        dtype: str | None = None,
        revision: str = "",
    ) -> ModelBundle:
        """The entry (task, model, device, dtype, revision), built by `loader(request)` on first use.

        For kinds with their own loader; one loader per task. The LoadRequest carries this cache's
        download policy and hub cache (read hub ids with hub.hub_snapshot). `device` None: the
        cache's default. Whatever the loader raises reaches the caller, and nothing is kept.
        """
        dev = resolve_device(device or self.device)
        request = LoadRequest(
            task=task,
            model_id=model.model_id,
            ref=model.ref,
            source=model.source,
            device=dev,
            dtype=resolve_dtype(dtype, dev),
            allow_downloads=self.allow_downloads,
            hub_cache_dir=None if self.hub_cache_dir is None else os.fspath(self.hub_cache_dir),
            revision=revision,
            default_model=self.default(task),
        )
        return self._get_or_load(request, loader)

    def _get_or_load(self, request: LoadRequest, loader: Loader) -> ModelBundle:
        key = request.key
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.hits += 1
                self._entries.move_to_end(key)
                logger.debug("%s (%s) from the model cache", key[1], key[0])
                return entry.bundle
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                flight.waiters += 1

        if not leader:
            logger.debug("waiting for the load of %s (%s) already under way", key[1], key[0])
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.bundle is not None
            return flight.bundle

        try:
            started = time.perf_counter()
            bundle = loader(request)
            bundle.load_seconds = time.perf_counter() - started
        except BaseException as exc:
            with self._lock:
                del self._flights[key]
            flight.error = exc
            flight.done.set()
            raise
        with self._lock:
            del self._flights[key]
            for stale in [k for k in self._entries if k[:4] == key[:4]]:  # an older revision of it
                del self._entries[stale]
            self._entries[key] = _Entry(bundle)
            self._evict(keep=key)
        flight.bundle = bundle
        flight.done.set()
        logger.info(
            "loaded %s (%s) on %s as %s in %.2f s, %.1f MB",
            bundle.model_id,
            bundle.task,
            bundle.device,
            bundle.dtype,
            bundle.load_seconds,
            bundle.nbytes / 1e6,
            extra={"figures": _figures(bundle)},
        )
        if self.freeze_gc:
            _freeze_heap()
        return bundle

    def _evict(self, keep: Key | None) -> None:
        # Caller holds the lock. `keep` (the entry just added) stays even when it alone is too big.
        while self._entries:
            total = sum(e.bundle.nbytes for e in self._entries.values())
            if len(self._entries) <= self.max_models and total <= self.max_bytes:
                return
            oldest = next(iter(self._entries))
            if oldest == keep:  # the newest entry is last, so it is first only when it is alone
                return
            gone = self._entries.pop(oldest).bundle
            logger.info(
                "evicted %s (%s) from the model cache (it held %d models, %.1f MB; bounds %d, %.1f MB)",
                gone.model_id,
                gone.task,
                len(self._entries) + 1,
                total / 1e6,
                self.max_models,
                self.max_bytes / 1e6,
                extra={"figures": _figures(gone)},
            )

    def loaded(self) -> list[LoadedInfo]:
        """What is loaded now, every kind, most recently used first (for the `models://list` resource)."""
        with self._lock:
            entries = list(reversed(self._entries.values()))
        return [
            LoadedInfo(
                id=e.bundle.model_id,
                task=e.bundle.task,
                device=e.bundle.device,
                dtype=e.bundle.dtype,
                nbytes=e.bundle.nbytes,
                source=e.bundle.source,
                load_seconds=e.bundle.load_seconds,
                hits=e.hits,
            )
            for e in entries
        ]

    def loading(self) -> list[dict[str, Any]]:
        """Loads in progress now: {"id", "task", "device", "dtype", "waiters"} each, JSON-ready."""
        with self._lock:
            keys = [(key, flight.waiters) for key, flight in self._flights.items()]
        return [
            {"id": model_id, "task": task, "device": device, "dtype": dtype, "waiters": waiters}
            for (task, model_id, device, dtype, _), waiters in keys
        ]

    @property
    def nbytes(self) -> int:
        """Bytes held by all loaded models."""
        with self._lock:
            return sum(e.bundle.nbytes for e in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __bool__(self) -> bool:
        return True  # an empty cache is still a cache: `models or default_cache()` must not skip it

    def clear(self) -> None:
        """Drop every loaded model (loads in flight still finish and are then kept)."""
        with self._lock:
            self._entries.clear()


def _freeze_heap() -> None:
    """Move every object alive now (the models just loaded among them) out of the collected generations.

    torch, transformers and diffusers leave ~500k long-lived objects on the heap; every full
    (generation-2) collection walks them all, ~300 ms that stall every thread on this machine (the
    event loop included) every few seconds while a sampling loop allocates. Frozen objects are
    never walked again. This is process-wide, which is why only a server process turns it on (its
    heap is the models; one full collect per load, in the loading thread: it holds the GIL like any
    collect, a one-off pause per load instead of one every few seconds), and a library user's
    ModelCache leaves their gc alone. `unfreeze()` first lets this collect find cycles left by
    models evicted since the last load, so nothing frozen earlier leaks.
    """
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    logger.debug(
        "froze %d objects out of the gc in %.3f s", gc.get_freeze_count(), time.perf_counter() - started
    )


def _figures(bundle: ModelBundle) -> dict[str, Any]:
    return {
        "id": bundle.model_id,
        "task": bundle.task,
        "device": bundle.device,
        "dtype": bundle.dtype,
        "seconds": round(bundle.load_seconds, 3),
        "bytes": bundle.nbytes,
        "source": bundle.source,
    }
