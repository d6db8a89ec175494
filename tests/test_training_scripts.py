"""The training scripts never write the shipped house weights unless told to (--overwrite-house).

Only their argument handling runs here (it refuses before anything trains); the quick training runs
are in tests/tools/test_house_*.py.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
HOUSE = REPO / "tools" / "house_models"
SCRIPTS = {"train_vit.py": "vit-digits", "train_clip.py": "clip-digits", "train_ddpm.py": "ddpm-digits"}
SCRIPTS["train_gpt2.py"] = "gpt2-pydocs"
SCRIPTS["train_ldm.py"] = "ldm-digits"


def common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_house_common", REPO / "scripts" / "_house_common.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize(("script", "folder"), SCRIPTS.items())
def test_an_out_inside_the_house_folder_is_refused_before_anything_runs(script: str, folder: str) -> None:
    shipped = fingerprint(HOUSE / folder)
    probe = HOUSE / folder / "refused-probe"  # inside, and new: a broken refusal cannot overwrite files
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), "--quick", "--out", str(probe)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        assert done.returncode == 2, done.stderr
        assert (
            f"{script}: error: --out {probe} is inside tools/house_models/, the shipped models" in done.stderr
        )
        assert f"pass --overwrite-house to replace tools/house_models/{folder} on purpose" in done.stderr
        assert not probe.exists() and fingerprint(HOUSE / folder) == shipped
    finally:
        if probe.exists():
            for p in sorted(probe.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
            probe.rmdir()


def args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"out": None, "overwrite_house": False, "quick": False, **given})


def test_where_each_combination_of_flags_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = common()
    assert c.RETRAINED_DIR == REPO / "build" / "house-models"  # outside the package ...
    ignored = subprocess.run(["git", "check-ignore", "-q", "build/house-models/x"], cwd=REPO, timeout=30)
    assert ignored.returncode == 0  # ... and ignored by git
    monkeypatch.setattr(c, "RETRAINED_DIR", tmp_path / "retrained")  # don't create build/ here
    assert c.resolve_out(args(), "vit-digits") == tmp_path / "retrained" / "vit-digits"
    assert c.resolve_out(args(out=tmp_path / "mine"), "vit-digits") == tmp_path / "mine"
    assert c.resolve_out(args(quick=True), "vit-digits").parent.name == "genai-mcp-quick"
    # The shipped folder only on purpose: --overwrite-house alone, or with --out naming it.
    house = HOUSE / "vit-digits"
    assert c.resolve_out(args(overwrite_house=True), "vit-digits") == house
    assert c.resolve_out(args(overwrite_house=True, out=house), "vit-digits") == house


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"out": HOUSE / "vit-digits"}, "is inside tools/house_models/, the shipped models"),
        ({"out": HOUSE}, "is inside tools/house_models/, the shipped models"),
        ({"out": HOUSE / "vit-digits", "quick": True}, "pass --overwrite-house"),
        ({"overwrite_house": True, "out": Path("/tmp/elsewhere")}, "--out /tmp/elsewhere is elsewhere"),
        ({"overwrite_house": True, "out": HOUSE}, "--overwrite-house writes tools/house_models/vit-digits"),
    ],
)
def test_refusals(given: dict[str, object], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        common().resolve_out(args(**given), "vit-digits")
    assert refused.value.code == 2 and message in capsys.readouterr().err


def test_the_model_cards_say_how_to_retrain_and_why_a_rerun_differs() -> None:
    c = common()
    for folder in SCRIPTS.values():
        card = (HOUSE / folder / "README.md").read_text(encoding="utf-8")
        assert f"the script writes `build/house-models/{folder}/`" in card and "--overwrite-house" in card
        assert c.REPRODUCIBILITY in card


def test_quick_ldm_training_writes_a_pipeline_folder_elsewhere(tmp_path: Path) -> None:
    """The one quick run here: train_ldm.py has no other test of its training path (the shipped
    weights' figures are in tests/tools/test_house_ldm.py)."""
    import json

    import torch
    from diffusers import AutoPipelineForText2Image

    shipped = fingerprint(HOUSE / "ldm-digits")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_ldm.py"), "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,  # ~20 s of CPU, but minutes of wall time on shared cores
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert fingerprint(HOUSE / "ldm-digits") == shipped
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["quick"] is True and metrics["unet_steps"] == metrics["vae_steps"] == 3
    assert "Provisional" in (tmp_path / "README.md").read_text(encoding="utf-8")
    pipe = AutoPipelineForText2Image.from_pretrained(tmp_path, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    drawn = pipe("a handwritten 3", num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert drawn.images[0].size == (16, 16)  # the checkpoint's own size
