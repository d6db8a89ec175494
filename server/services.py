"""What the tool registration modules share: the settings and the stores built from them."""

from __future__ import annotations

from dataclasses import dataclass

from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.lora.store import AdapterStore
from genai_mcp.tools.outputs import OutputStore

__all__ = ["Services"]


@dataclass
class Services:
    settings: ServerSettings
    outputs: OutputStore
    adapters: AdapterStore

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> Services:
        outputs = OutputStore(
            settings.outputs_dir,
            max_files=settings.outputs_max_files,
            max_bytes=settings.outputs_max_bytes,
        )
        return cls(settings=settings, outputs=outputs, adapters=AdapterStore(settings.adapters_dir))
