"""Small pieces shared by the house-model training scripts (scripts/train_*.py).

Stable API (other training scripts import it): `write_model_card(out_dir, title, sections)` and
`write_metrics(out_dir, metrics)`. The rest (timing, seeding, sizes, the --out/--overwrite-house/--quick
convention, the card's retraining lines) is here so every script records the same facts the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HOUSE_MODELS_DIR = REPO_ROOT / "tools" / "house_models"
# Where a retrained model goes by default: outside the package and ignored by git, so a run never
# replaces the shipped weights by accident (--overwrite-house does that on purpose).
RETRAINED_DIR = REPO_ROOT / "build" / "house-models"

DIGITS_DATA_SECTION = (
    "scikit-learn's `load_digits` (ships inside scikit-learn, no download): 1797 grey 8x8 handwritten "
    "digits, values 0-16, about 180 per class; a copy of the test set of the UCI *Optical Recognition "
    "of Handwritten Digits* data set (Alpaydin & Kaynak, 1998). Each digit becomes a 16x16 image "
    "through `genai_mcp.tools.house.digits.digit_images` (values x 255/16, bilinear 8x8 -> 16x16). "
    "Split: 80/20 stratified, seed 0 -> 1437 training, 360 held-out images (no image is in both)."
)
DIGITS_LICENSE_SECTION = (
    "Data: scikit-learn is BSD-3-Clause; the UCI digits data set is CC BY 4.0 "
    "(https://archive.ics.uci.edu/dataset/80). Weights and code: Apache-2.0, like genai-mcp."
)


def write_model_card(
    out_dir: str | Path,
    title: str,
    sections: Mapping[str, str],
    *,
    metadata: Mapping[str, str | list[str]] | None = None,
) -> Path:
    """Write `out_dir/README.md`: optional YAML front matter, `# title`, then one `## heading` per section.

    Sections keep their insertion order; their text is Markdown written as given. Returns the path.
    """
    lines: list[str] = []
    if metadata:
        lines.append("---")
        for key, value in metadata.items():
            if isinstance(value, list):
                lines.append(f"{key}:")
                lines += [f"- {item}" for item in value]
            else:
                lines.append(f"{key}: {value}")
        lines += ["---", ""]
    lines += [f"# {title}", ""]
    for heading, text in sections.items():
        lines += [f"## {heading}", "", text.strip(), ""]
    path = Path(out_dir) / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_metrics(out_dir: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write `out_dir/metrics.json` (sorted keys, 2-space indent, trailing newline). Returns the path."""
    path = Path(out_dir) / "metrics.json"
    path.write_text(json.dumps(dict(metrics), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def add_common_args(parser: argparse.ArgumentParser, folder: str) -> None:
    """--out DIR, --overwrite-house, --quick (a few steps into a temporary folder) and --threads."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default: build/house-models/{folder}, outside the package)",
    )
    parser.add_argument(
        "--overwrite-house",
        action="store_true",
        help=f"write the shipped model, tools/house_models/{folder}, replacing its tracked weights",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few steps only (seconds), for tests; writes to --out or a temp dir",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def _refuse(message: str) -> None:
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    raise SystemExit(2)  # argparse's code for a usage error


def resolve_out(args: argparse.Namespace, folder: str) -> Path:
    """The output folder, created: --out if given; the house folder with --overwrite-house; else
    build/house-models/<folder> (a temp folder with --quick).

    Nothing under tools/house_models/ is written without --overwrite-house: an --out there is
    refused (exit 2) before anything is trained or written.
    """
    house = HOUSE_MODELS_DIR / folder
    if args.out is not None:
        out = Path(args.out).resolve()
        inside = out == HOUSE_MODELS_DIR or HOUSE_MODELS_DIR in out.parents
        if inside and not args.overwrite_house:
            _refuse(
                f"--out {args.out} is inside tools/house_models/, the shipped models; "
                f"pass --overwrite-house to replace {house.relative_to(REPO_ROOT)} on purpose"
            )
        if args.overwrite_house and out != house:
            _refuse(f"--overwrite-house writes {house.relative_to(REPO_ROOT)}; --out {args.out} is elsewhere")
    elif args.overwrite_house:
        out = house
    elif args.quick:
        out = Path(tempfile.gettempdir()) / "genai-mcp-quick" / folder
    else:
        out = RETRAINED_DIR / folder
    out.mkdir(parents=True, exist_ok=True)
    return out


def retraining_text(folder: str, command: str) -> str:
    """The model card's "how to retrain" lines: the command that made it, and where a rerun writes."""
    return (
        f"Command (from the repository root): `{command}`\n\n"
        f"Run as it stands, the script writes `build/house-models/{folder}/` (outside the package; pass "
        f"its absolute path as `model`); add `--overwrite-house` to replace the shipped weights in "
        f"`tools/house_models/{folder}/`. {REPRODUCIBILITY}"
    )


# Why a rerun may not give these exact weights, said once for every card.
REPRODUCIBILITY = (
    "Runs on one machine repeat bit for bit (the seed is fixed and every random draw is seeded); "
    "another machine need not: its CPU's vector instructions, another thread count (`--threads`) or "
    "another torch version order floating-point sums differently, so a retrained model's weights, and "
    "slightly its held-out figures, differ from these."
)


def command_line() -> str:
    """The command that is running, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(REPO_ROOT))
    except ValueError:
        shown = str(script)
    return shlex.join(["python", shown, *sys.argv[1:]])


def seed_everything(seed: int, threads: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Yields a dict whose "seconds" holds the elapsed wall time once the block ends."""
    result = {"seconds": 0.0}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start


def weights_bytes(out_dir: str | Path) -> int:
    """Bytes of the weight files (*.safetensors, *.bin) under `out_dir`, recursively."""
    root = Path(out_dir)
    return sum(p.stat().st_size for pattern in ("*.safetensors", "*.bin") for p in root.rglob(pattern))


def folder_bytes(out_dir: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(out_dir).rglob("*") if p.is_file())


def environment() -> dict[str, str]:
    """Versions and machine facts worth recording next to a training result (no heavy imports)."""
    from importlib.metadata import version

    import torch

    packages = ("torch", "transformers", "diffusers", "scikit-learn")
    return {
        "python": platform.python_version(),
        **{name: version(name) for name in packages},
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}"
        ),
    }


def environment_text(env: Mapping[str, str]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in env.items())


def human_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB"


def random_shift(pixels: Any, generator: Any, max_shift: int = 2) -> Any:
    """(B, C, H, W) normalised images shifted by up to max_shift px; uncovered pixels get the background."""
    import torch
    import torch.nn.functional as F

    b, _, h, w = pixels.shape
    background = float(pixels.min())
    padded = F.pad(pixels, (max_shift,) * 4, value=background)
    offsets = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator)
    return torch.stack(
        [padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets.tolist())]
    )
