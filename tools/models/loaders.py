"""The real loader behind ModelCache: from_pretrained for each task, with wrong-type checks.

Every load reads a local directory: a house folder, the caller's directory, or the hub snapshot
folder that hub.hub_snapshot gives (the local cache only when downloads are off). Nothing passes
trust_remote_code, so a checkpoint never runs code of its own. Tasks with loaders of their own
(sentence embedders, rerankers, adapter merges) pass them to ModelCache.load; they read hub ids
through hub_snapshot too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genai_mcp.tools.errors import GenAIError, ModelUnavailableError
from genai_mcp.tools.models.bundle import LoadRequest, ModelBundle, module_nbytes
from genai_mcp.tools.models.hub import first_line as _first_line
from genai_mcp.tools.models.hub import hub_snapshot
from genai_mcp.tools.models.resolve import house_default

__all__ = ["EXPECTED", "describe_folder", "load_checkpoint", "read_json"]

EXPECTED: dict[str, str] = {
    "image-classification": (
        "a transformers image classifier (an AutoModelForImageClassification architecture such as "
        "ViTForImageClassification, with its preprocessor_config.json)"
    ),
    "zero-shot-image-classification": (
        "a CLIP-style dual encoder (CLIPModel, SiglipModel, ... with text_config and vision_config) "
        "and its processor (tokenizer + image processor)"
    ),
    "text-generation": (
        "a causal language model (an AutoModelForCausalLM architecture such as GPT2LMHeadModel) "
        "and its tokenizer"
    ),
    "unconditional-image-generation": (
        "a diffusers UNet2DModel checkpoint: a DDPMPipeline folder (model_index.json, unet/, scheduler/) "
        "or a UNet folder with scheduler_config.json beside its config.json"
    ),
    "text-to-image": (
        "a diffusers text-to-image pipeline folder (model_index.json naming a pipeline that "
        "AutoPipelineForText2Image loads, such as StableDiffusionPipeline, with its vae/ and tokenizer)"
    ),
}


def load_checkpoint(request: LoadRequest) -> ModelBundle:
    """Load `request` from its directory (or hub snapshot) onto its device, in eval mode.

    Raises ModelUnavailableError when the files are missing, unreadable, or not a checkpoint for
    the request's task (the message names what that task expects).
    """
    import torch

    if request.source == "hub":
        default = request.default_model or house_default(request.task)
        note = "" if default == request.model_id else f" With no model, {request.task} uses {default}."
        path = hub_snapshot(request, note=note)
    else:
        path = Path(request.ref)
    try:
        model, processor, scheduler = _TASK_LOADERS[request.task](
            path, request, getattr(torch, request.dtype)
        )
    except GenAIError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelUnavailableError(
            f"cannot load {request.model_id} for {request.task}: {_first_line(exc)}; "
            f"{request.task} expects {EXPECTED[request.task]}"
        ) from exc
    model.to(request.device)
    if isinstance(model, torch.nn.Module):  # a diffusers pipeline is none; its modules load in eval mode
        model.eval()
    return ModelBundle(
        model_id=request.model_id,
        task=request.task,
        device=request.device,
        dtype=request.dtype,
        model=model,
        processor=processor,
        scheduler=scheduler,
        source=request.source,
        nbytes=module_nbytes(model),
        load_seconds=0.0,
        path=str(path),
    )


# ---- one loader per task: (directory, request, torch dtype) -> (model, processor, scheduler)


def _image_classifier(path: Path, request: LoadRequest, dtype: Any) -> tuple[Any, Any, Any]:
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    _require_transformers_config(path, request)
    model = _from_pretrained(AutoModelForImageClassification, path, request, dtype)
    processor = _processor(AutoImageProcessor, path, request, "image processor (preprocessor_config.json)")
    return model, processor, None


def _zero_shot(path: Path, request: LoadRequest, dtype: Any) -> tuple[Any, Any, Any]:
    from transformers import AutoModel, AutoProcessor

    config = _require_transformers_config(path, request)
    if not (hasattr(config, "text_config") and hasattr(config, "vision_config")):
        raise _wrong_type(path, request)
    model = _from_pretrained(AutoModel, path, request, dtype)
    if not (
        callable(getattr(model, "get_text_features", None))
        and callable(getattr(model, "get_image_features", None))
    ):
        raise _wrong_type(path, request)
    processor = _processor(AutoProcessor, path, request, "processor (tokenizer + image processor)")
    if getattr(processor, "tokenizer", None) is None or getattr(processor, "image_processor", None) is None:
        raise ModelUnavailableError(
            f"{request.model_id} has no combined processor (tokenizer + image processor); "
            f"{request.task} expects {EXPECTED[request.task]}"
        )
    return model, processor, None


def _causal_lm(path: Path, request: LoadRequest, dtype: Any) -> tuple[Any, Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _require_transformers_config(path, request)
    model = _from_pretrained(AutoModelForCausalLM, path, request, dtype)
    tokenizer = _processor(AutoTokenizer, path, request, "tokenizer")
    return model, tokenizer, None


def _diffusion(path: Path, request: LoadRequest, dtype: Any) -> tuple[Any, Any, Any]:
    import diffusers

    unet_cls: Any = diffusers.UNet2DModel  # diffusers' from_pretrained is untyped

    if (path / "unet" / "config.json").is_file():
        unet_dir, subfolder = path / "unet", "unet"
    elif (path / "config.json").is_file():
        unet_dir, subfolder = path, None
    else:
        raise _wrong_type(path, request)
    if read_json(unet_dir / "config.json").get("_class_name") != "UNet2DModel":
        raise _wrong_type(path, request)
    scheduler_dir = next(
        (d for d in (unet_dir, path / "scheduler") if (d / "scheduler_config.json").is_file()), None
    )
    if scheduler_dir is None:
        raise ModelUnavailableError(
            f"{request.model_id} has no scheduler config (scheduler/scheduler_config.json); "
            f"{request.task} expects {EXPECTED[request.task]}"
        )
    name = read_json(scheduler_dir / "scheduler_config.json").get("_class_name", "")
    scheduler_cls: Any = getattr(diffusers, str(name), None)
    if not (isinstance(scheduler_cls, type) and issubclass(scheduler_cls, diffusers.SchedulerMixin)):
        raise ModelUnavailableError(
            f"{request.model_id}: {name!r} in its scheduler config is not a diffusers scheduler"
        )
    unet = unet_cls.from_pretrained(str(path), subfolder=subfolder, torch_dtype=dtype, local_files_only=True)
    load_scheduler: Any = scheduler_cls.from_pretrained  # untyped in diffusers
    scheduler = load_scheduler(str(scheduler_dir), local_files_only=True)
    return unet, None, scheduler


def _text_to_image(path: Path, request: LoadRequest, dtype: Any) -> tuple[Any, Any, Any]:
    import diffusers

    index = read_json(path / "model_index.json")
    if not index.get("_class_name") or "vae" not in index:
        raise _wrong_type(path, request)
    auto: Any = diffusers.AutoPipelineForText2Image  # diffusers' from_pretrained is untyped
    try:
        pipeline = auto.from_pretrained(str(path), dtype=dtype, local_files_only=True)
    except ValueError as exc:
        if "AutoPipeline can't find a pipeline" in str(exc):
            raise _wrong_type(path, request) from None
        raise
    pipeline.set_progress_bar_config(disable=True)  # progress goes to the caller, per step
    return pipeline, getattr(pipeline, "tokenizer", None), pipeline.scheduler


_TASK_LOADERS = {
    "image-classification": _image_classifier,
    "zero-shot-image-classification": _zero_shot,
    "text-generation": _causal_lm,
    "unconditional-image-generation": _diffusion,
    "text-to-image": _text_to_image,
}


# ---- shared checks


def _require_transformers_config(path: Path, request: LoadRequest) -> Any:
    from transformers import AutoConfig

    if "model_type" not in read_json(path / "config.json"):
        raise _wrong_type(path, request)
    return AutoConfig.from_pretrained(str(path), local_files_only=True)


def _from_pretrained(auto_cls: Any, path: Path, request: LoadRequest, dtype: Any) -> Any:
    try:
        model, info = auto_cls.from_pretrained(
            str(path), dtype=dtype, local_files_only=True, output_loading_info=True
        )
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc):
            raise _wrong_type(path, request) from None
        raise
    # Weights the checkpoint lacks were initialised at random: a head for another task, or a
    # truncated file. Either way the model would answer with noise.
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelUnavailableError(
            f"{request.model_id} is {describe_folder(path)} without weights for {shown}, so it is not a complete "
            f"{request.task} checkpoint; {request.task} expects {EXPECTED[request.task]}"
        )
    return model


def _processor(auto_cls: Any, path: Path, request: LoadRequest, what: str) -> Any:
    try:
        return auto_cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            f"{request.model_id} has no usable {what}: {_first_line(exc)}; "
            f"{request.task} expects {EXPECTED[request.task]}"
        ) from exc


def _wrong_type(path: Path, request: LoadRequest) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"{request.model_id} is {describe_folder(path)}, not a checkpoint for {request.task}; "
        f"{request.task} expects {EXPECTED[request.task]}"
    )


def describe_folder(path: Path) -> str:
    """A short phrase for what a checkpoint folder holds, for error messages."""
    index = read_json(path / "model_index.json")
    if index.get("_class_name"):
        return f"a diffusers {index['_class_name']} folder"
    config = read_json(path / "config.json")
    if config.get("model_type"):
        archs = config.get("architectures") or []
        return f"a {config['model_type']} checkpoint" + (f" ({archs[0]})" if archs else "")
    if config.get("_class_name"):
        return f"a diffusers {config['_class_name']} checkpoint"
    return "a folder with no config.json or model_index.json"


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file's contents; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
