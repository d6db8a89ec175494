"""LoRA datasets: every accepted form on real files and real images, the split, and each refusal."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.images import ImagePolicy
from genai_mcp.tools.lora.data import MAX_KEPT_SIDE, ImageData, LoraLimits, TextData, load_dataset
from genai_mcp.tools.lora.schemas import LoraRequest

POLICY = ImagePolicy()


def texts(dataset: Any, root: Path | None = None, seed: int = 0, **kw: Any) -> TextData:
    limits = LoraLimits(roots=(root,) if root else (), **kw)
    request = LoraRequest(task="causal-lm", dataset=dataset, seed=seed)
    result = load_dataset(request, limits=limits, policy=POLICY)
    assert isinstance(result, TextData)
    return result


def images(dataset: Any, root: Path | None = None, seed: int = 0, **kw: Any) -> ImageData:
    limits = LoraLimits(roots=(root,) if root else (), **kw)
    request = LoraRequest(task="image-classification", dataset=dataset, seed=seed)
    result = load_dataset(request, limits=limits, policy=POLICY)
    assert isinstance(result, ImageData)
    return result


def png(shade: int, size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (size, size), shade).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(shade: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png(shade)).decode()


def labelled(counts: dict[str, int]) -> list[dict[str, str]]:
    return [{"image": data_uri(10 * i), "label": label} for label, n in counts.items() for i in range(n)]


def write_classes(root: Path, counts: dict[str, int]) -> Path:
    folder = root / "digits"
    for label, n in counts.items():
        (folder / label).mkdir(parents=True)
        for i in range(n):
            (folder / label / f"{i}.png").write_bytes(png(20 * i))
    return folder


# ---- texts


def test_inline_texts_split_by_fraction_and_seed() -> None:
    passages = [f"passage number {i}" for i in range(10)]
    first = texts(passages)
    assert (len(first.train), len(first.eval)) == (8, 2)
    assert sorted(first.train + first.eval) == sorted(passages)
    assert first.source == "inline: 10 texts"
    assert texts(passages).eval == first.eval
    assert len({tuple(texts(passages, seed=s).eval) for s in range(6)}) > 1


def test_one_pasted_document_is_split_at_blank_lines() -> None:
    data = texts(["alpha one\nalpha two\n\n\n  beta  \n \n\ngamma\n\ndelta"])
    assert sorted(data.train + data.eval) == ["alpha one\nalpha two", "beta", "delta", "gamma"]
    assert len(data.eval) == 1
    assert data.source == "inline: 1 text, 4 passages"


def test_txt_and_jsonl_files_under_a_root(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("first\n\nsecond\n\n\n\nthird\n\n", encoding="utf-8")
    data = texts("notes.txt", tmp_path)
    assert sorted(data.train + data.eval) == ["first", "second", "third"]
    assert data.source == "notes.txt: 3 passages"
    lines = [json.dumps({"text": f"row {i}", "id": i}) for i in range(5)]
    (tmp_path / "rows.jsonl").write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n", encoding="utf-8")
    rows = texts(str(tmp_path / "rows.jsonl"), tmp_path)
    assert sorted(rows.train + rows.eval) == [f"row {i}" for i in range(5)]
    assert len(rows.eval) == 1


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"line 3 of 'bad\.jsonl' is not valid JSON"):
        texts("bad.jsonl", tmp_path)
    (tmp_path / "notext.jsonl").write_text('{"text": "ok"}\n{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r'line 2 .* string "text" field'):
        texts("notext.jsonl", tmp_path)


def test_paths_must_stay_under_the_roots(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("a\n\nb", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="outside the allowed roots"):
        texts(str(outside / "secret.txt"), root)
    with pytest.raises(InvalidInputError, match=r"contains '\.\.'"):
        texts("../outside/secret.txt", root)
    (root / "link.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(InvalidInputError, match="symlink outside the allowed roots"):
        texts("link.txt", root)
    with pytest.raises(InvalidInputError, match=r"no file roots are configured$") as refused:
        texts("notes.txt")
    assert refused.value.setting == "files.roots"
    with pytest.raises(InvalidInputError, match=r"no dataset 'missing\.txt' exists under the allowed roots"):
        texts("missing.txt", root)


def test_wrong_suffix_folder_and_encoding_refused(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"accepts \.txt, \.jsonl"):
        texts("data.csv", tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(InvalidInputError, match="is a folder"):
        texts("folder", tmp_path)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n\nna\xefve".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="not UTF-8 text"):
        texts("latin1.txt", tmp_path)


def test_text_limits_name_their_settings(tmp_path: Path) -> None:
    with pytest.raises(LimitExceededError, match=r"passages is 6, over the limit of 5$") as refused:
        texts([f"t{i}" for i in range(6)], max_examples=5)
    assert refused.value.setting == "lora.max_examples"
    with pytest.raises(LimitExceededError, match=r"characters is 40, over the limit of 30$") as refused:
        texts(["x" * 20, "y" * 20], max_text_chars=30)
    assert refused.value.setting == "lora.max_text_chars"
    # A file that cannot fit is refused from its size, before it is read.
    (tmp_path / "big.txt").write_text("z" * 130, encoding="utf-8")
    with pytest.raises(LimitExceededError, match="size in bytes is 130, over the limit of 120"):
        texts("big.txt", tmp_path, max_text_chars=30)


def test_too_little_text_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no text"):
        texts(["  ", "\n"])
    with pytest.raises(InvalidInputError, match="need at least 2 passages"):
        texts(["only one passage"])
    (tmp_path / "one.txt").write_text("one passage\nover two lines\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="need at least 2 passages"):
        texts("one.txt", tmp_path)


# ---- images


def test_inline_images_stratified_split() -> None:
    data = images(labelled({"cat": 5, "dog": 5, "owl": 4, "yak": 1}))
    assert data.labels == ["cat", "dog", "owl", "yak"]
    assert sorted(label for _, label in data.eval) == ["cat", "dog", "owl"]
    assert {label for _, label in data.train} == {"cat", "dog", "owl", "yak"}
    assert len(data.train) == 12
    assert all(image.mode == "RGB" and image.size == (16, 16) for image, _ in data.train + data.eval)
    assert data.source == "inline: 15 images in 4 classes"


def test_class_folder_dataset(tmp_path: Path) -> None:
    folder = write_classes(tmp_path, {"0": 3, "1": 4, "2": 2})
    (folder / "1" / "README.md").write_text("not an image", encoding="utf-8")
    (folder / "1" / ".hidden.png").write_bytes(b"junk")
    (folder / ".cache").mkdir()
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    data = images("digits/", tmp_path)
    assert data.labels == ["0", "1", "2"]
    assert sorted(label for _, label in data.eval) == ["0", "1", "2"]
    assert len(data.train) == 6
    assert data.source == "digits/: 9 images in 3 classes"
    assert images("digits", tmp_path, seed=0).eval[0][1] == data.eval[0][1]
    with pytest.raises(InvalidInputError, match="is a file; image-classification needs a folder"):
        images("digits/0/0.png", tmp_path)


def test_image_datasets_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="at least 2 classes"):
        images(labelled({"cat": 4}))
    blank = labelled({"cat": 2, "dog": 2})
    blank[2]["label"] = "   "
    with pytest.raises(InvalidInputError, match="image 2 has a blank label"):
        images(blank)
    with pytest.raises(InvalidInputError, match="no class has 2 or more images"):
        images(labelled({"cat": 1, "dog": 1}))
    broken = labelled({"cat": 2, "dog": 2})
    broken[1]["image"] = "data:image/png;base64," + base64.b64encode(b"not a png at all").decode()
    with pytest.raises(InvalidInputError, match="image 1: the data is not a PNG"):
        images(broken)
    folder = write_classes(tmp_path, {"a": 2, "b": 2})
    (folder / "b" / "1.png").write_bytes(b"not an image")
    with pytest.raises(InvalidInputError, match=r"b/1\.png: the data is not a PNG"):
        images("digits", tmp_path)


def test_image_count_checked_before_decoding(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            (folder / label / f"{i}.png").write_bytes(b"undecodable")
    with pytest.raises(LimitExceededError, match=r"images is 6, over the limit of 5$") as refused:
        images("junk", tmp_path, max_examples=5)
    assert refused.value.setting == "lora.max_examples"
    with pytest.raises(LimitExceededError, match="images is 6, over the limit of 5"):
        images(labelled({"x": 3, "y": 3}), max_examples=5)


def test_dataset_shape_must_fit_the_task() -> None:
    with pytest.raises(InvalidInputError, match="image-classification needs a list of"):
        images(["a text", "another"])
    with pytest.raises(InvalidInputError, match="causal-lm needs texts"):
        texts(labelled({"cat": 1, "dog": 1}))


def test_large_images_are_kept_downscaled(tmp_path: Path) -> None:
    big = Image.new("RGB", (2000, 1000), (200, 10, 10))
    folder = tmp_path / "photos"
    for label in ("red", "blue"):
        (folder / label).mkdir(parents=True)
        for i in range(2):
            big.save(folder / label / f"{i}.png")
    data = images("photos", tmp_path)
    assert {image.size for image, _ in data.train + data.eval} == {(MAX_KEPT_SIDE, MAX_KEPT_SIDE // 2)}
