"""OutputStore: atomic writes, safe names, pruning by count and bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.outputs import OutputLimits, OutputStore, atomic_write_bytes


def test_save_read_and_uri(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "out", uri_prefix="test://outputs/")
    stored = store.save_png(Image.new("L", (5, 5), 128), "Sample Grid!")
    assert stored.name.startswith("sample-grid-") and stored.name.endswith(".png")
    assert store.read(stored.name)[:8] == b"\x89PNG\r\n\x1a\n"
    assert stored.uri == "test://outputs/" + stored.name
    assert store.name_from_uri(stored.uri) == stored.name
    assert [out.uri for out in store.stored()] == [stored.uri]
    with pytest.raises(InvalidInputError, match="they start with test://outputs/"):
        store.name_from_uri("other://outputs/" + stored.name)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [stored.name]  # no temp files left


@pytest.mark.parametrize("bad", ["../x.png", "a/b.png", "x.jpg", "", "X.png", ".hidden.png"])
def test_names_outside_the_pattern_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="not an output name"):
        OutputStore(tmp_path, uri_prefix="test://").path_of(bad)


def test_pruning_keeps_newest_within_budget(tmp_path: Path) -> None:
    store = OutputStore(tmp_path, uri_prefix="test://", limits=OutputLimits(max_files=3))
    names = []
    for i in range(5):
        names.append(store.save_png(Image.new("L", (2, 2), i), "s").name)
        os.utime(tmp_path / names[-1], ns=(i * 10**9, i * 10**9))  # distinct mtimes
    store.prune()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[-3:])

    tiny = OutputStore(tmp_path / "b", uri_prefix="test://", limits=OutputLimits(max_bytes=1))
    first = tiny.save_png(Image.new("L", (2, 2)), "s")
    second = tiny.save_png(Image.new("L", (2, 2)), "s")
    assert not first.path.exists() and second.path.exists()  # the one just written always stays


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_check_room_refuses_more_outputs_than_are_kept(tmp_path: Path) -> None:
    store = OutputStore(tmp_path, uri_prefix="test://", limits=OutputLimits(max_files=4))
    store.check_room("num_images", 4)
    with pytest.raises(LimitExceededError, match=r"^num_images is 5, over the limit of 4$") as refused:
        store.check_room("num_images", 5)
    assert refused.value.setting == "outputs.max_files"


_SAVER = """
import sys
from pathlib import Path
from PIL import Image
from genai_mcp.tools.outputs import OutputLimits, OutputStore
limits = OutputLimits(max_files=3, max_bytes=10**9)
store = OutputStore(Path(sys.argv[1]), uri_prefix="test://outputs/", limits=limits)
for _ in range(300):
    store.save_png(Image.new("RGB", (4, 4)), "race")
"""


def test_servers_sharing_the_folder_prune_each_others_files_without_failing(tmp_path: Path) -> None:
    # Three processes, like three replicas on one volume, each pruning what the others wrote: before
    # pruning skipped files a peer had just removed, a few of these saves failed with FileNotFoundError.
    savers = [
        subprocess.Popen([sys.executable, "-c", _SAVER, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [saver.communicate(timeout=120)[1].decode()[-2000:] for saver in savers]
    assert [saver.returncode for saver in savers] == [0, 0, 0], errors
    assert len(OutputStore(tmp_path, uri_prefix="test://outputs/").stored()) <= 3
