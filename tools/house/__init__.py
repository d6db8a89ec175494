"""House models: small real models trained on this machine from data that ships in packages.

Their weights live in `genai_mcp/tools/house_models/<folder>/` as ordinary `save_pretrained`
folders, so they load through the same `from_pretrained` path as a hub id or a local directory.
The training scripts are under scripts/ in the repository; each folder has a model card (README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["HOUSE_DIR", "HOUSE_MODELS", "HouseModel", "house_model", "is_house_name"]

HOUSE_DIR = Path(__file__).resolve().parent.parent / "house_models"


@dataclass(frozen=True)
class HouseModel:
    name: str  # the id a caller passes as `model`, e.g. "house/vit-digits"
    folder: str  # folder under HOUSE_DIR
    task: str  # the capability it is the default for
    description: str

    @property
    def path(self) -> Path:
        return HOUSE_DIR / self.folder


HOUSE_MODELS: dict[str, HouseModel] = {
    m.name: m
    for m in (
        HouseModel(
            "house/vit-digits",
            "vit-digits",
            "image-classification",
            "ViT (16x16 RGB, patch 4) classifying handwritten digits 0-9 (scikit-learn digits)",
        ),
        HouseModel(
            "house/clip-digits",
            "clip-digits",
            "zero-shot-image-classification",
            "CLIP with its own small tokenizer, trained on digits and caption templates",
        ),
        HouseModel(
            "house/gpt2-pydocs",
            "gpt2-pydocs",
            "text-generation",
            "GPT-2 (4 layers, 128 wide, own byte-level BPE) trained on Python's documentation text",
        ),
        HouseModel(
            "house/ddpm-digits",
            "ddpm-digits",
            "unconditional-image-generation",
            "DDPM UNet2DModel (16x16, 1 channel) generating handwritten digits, EMA weights",
        ),
        HouseModel(
            "house/ldm-digits",
            "ldm-digits",
            "text-to-image",
            "latent diffusion in the Stable Diffusion layout (VAE, the house CLIP's text tower, a "
            "cross-attention UNet) drawing the prompted handwritten digit at 16x16",
        ),
    )
}


def is_house_name(model_id: str) -> bool:
    return model_id.startswith("house/")


def house_model(name: str) -> HouseModel:
    """The house model registered under `name` (KeyError if none)."""
    return HOUSE_MODELS[name]
