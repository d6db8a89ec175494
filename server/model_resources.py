"""MCP resources about models: the house models, the default model of each task, what is loaded now,
and each house model's card."""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from genai_mcp.server.limits import SETTINGS, VARIABLES
from genai_mcp.server.state import ServerState
from genai_mcp.tools.house import HOUSE_MODELS
from genai_mcp.tools.models.defaults import DEFAULT_MODEL_KEYS

__all__ = ["register"]


def _house_listing() -> list[dict[str, Any]]:
    return [
        {
            "id": m.name,
            "task": m.task,
            "description": m.description,
            "card": f"models://{m.folder}/card",
            "installed": (m.path / "README.md").is_file(),
        }
        for m in HOUSE_MODELS.values()
    ]


def _defaults_listing(state: ServerState) -> list[dict[str, Any]]:
    """Per task: the model calls that name none get, the variable that chooses it, whether the
    operator did, and what the start-up check found wrong with it (null: nothing)."""
    return [
        {
            "task": task,
            "model": model,
            "setting": VARIABLES[DEFAULT_MODEL_KEYS[task]],
            "chosen": getattr(state.settings, SETTINGS[DEFAULT_MODEL_KEYS[task]]) is not None,
            "problem": state.default_problems.get(task),
        }
        for task, model in state.default_models.items()
    ]


def register(server: MCPServer[Any], state: ServerState) -> None:
    @server.resource(
        "models://list",
        name="models",
        title="Models: house models, defaults and what is loaded",
        description=(
            "The house models, the default model of each task (the operator's choice or the built-in "
            "one, with the variable that sets it) and the models loaded in this process now."
        ),
        mime_type="application/json",
    )
    def models_list() -> str:
        return json.dumps(
            {
                "house": _house_listing(),
                "defaults": _defaults_listing(state),
                "loaded": [info.as_dict() for info in state.models.loaded()],
                "device_default": state.settings.device,
                "downloads_allowed": state.settings.allow_downloads,
            },
            indent=2,
        )

    @server.resource(
        "models://{folder}/card",
        name="model-card",
        title="Model card of a house model",
        description="The model card (data, license, training command, hyperparameters, held-out metrics).",
        mime_type="text/markdown",
    )
    def model_card(folder: str) -> str:
        for m in HOUSE_MODELS.values():
            if m.folder == folder:
                card = m.path / "README.md"
                if card.is_file():
                    return card.read_text(encoding="utf-8")
                break
        known = ", ".join(m.folder for m in HOUSE_MODELS.values())
        raise ResourceNotFoundError(f"no house model card {folder!r}; known: {known}")
