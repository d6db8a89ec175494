"""AdapterStore on a real folder: atomic saves, refusals, stale temp folders, a process killed mid-save."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.lora.schemas import AdapterInfo
from genai_mcp.tools.lora.store import HOST_TAG, INFO_FILE, STALE_ELSEWHERE_S, TEMP_PREFIX, AdapterStore


def _info(name: str = "x") -> AdapterInfo:
    return AdapterInfo(
        name=name,
        task="causal-lm",
        base_model="house/gpt2-pydocs",
        created="2026-01-01T00:00:00+00:00",
        rank=8,
        alpha=16.0,
        target_modules=["c_attn", "c_proj"],
        trainable_params=45056,
        eval_metric="perplexity",
        metric_before=200.0,
        metric_after=20.0,
        steps=10,
        train_examples=30,
    )


def _weights(folder: Path) -> None:
    (folder / "adapter_model.safetensors").write_bytes(b"w" * 1000)
    (folder / "README.md").write_text("# card\n")


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_save_list_info_delete(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "adapters", uri_prefix="test://adapters/")
    assert store.list() == [] and store.clean_stale() == 0  # the root does not exist yet
    path = store.save("zoo", _weights, _info("ignored"))
    assert path == store.path("zoo") and store.exists("zoo")
    assert _entries(store.root) == ["zoo"]  # no temp folder left
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "adapter_model.safetensors", INFO_FILE]
    info = store.info("zoo")
    assert info.name == "zoo" and info.size_bytes == 1000 + len("# card\n")
    assert store.uri("zoo") == "test://adapters/zoo"
    store.save("abc", _weights, _info())
    assert [a.name for a in store.list()] == ["abc", "zoo"]

    store.delete("abc")
    assert [a.name for a in store.list()] == ["zoo"] and _entries(store.root) == ["zoo"]
    with pytest.raises(InvalidInputError, match=r"no adapter named 'abc'; known adapters: zoo"):
        store.delete("abc")
    with pytest.raises(InvalidInputError, match="no adapter named 'nope'"):
        store.info("nope")
    with pytest.raises(InvalidInputError, match="not valid"):
        store.path("../evil")
    with pytest.raises(InvalidInputError, match="not valid"):
        store.save(".hidden", _weights, _info())


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, uri_prefix="test://")

    def half_then_fail(folder: Path) -> None:
        (folder / "adapter_model.safetensors").write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.save("broken", half_then_fail, _info())
    assert _entries(tmp_path) == [] and store.list() == [] and not store.exists("broken")


def test_existing_name_refused_and_untouched(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, uri_prefix="test://")
    store.save("keep", _weights, _info())
    before = {p.name: p.read_bytes() for p in store.path("keep").iterdir()}
    with pytest.raises(InvalidInputError, match="already exists"):
        store.save("keep", _weights, _info())
    assert {p.name: p.read_bytes() for p in store.path("keep").iterdir()} == before
    assert _entries(tmp_path) == ["keep"]


@pytest.mark.parametrize("with_file", [True, False])
def test_name_taken_during_the_write_is_not_replaced(tmp_path: Path, with_file: bool) -> None:
    """Another writer creates the name while our files are written: the rename must refuse, even
    onto an empty folder (which a bare os.rename would silently replace)."""
    store = AdapterStore(tmp_path, uri_prefix="test://")

    def racing(folder: Path) -> None:
        _weights(folder)
        (tmp_path / "race").mkdir()
        if with_file:
            (tmp_path / "race" / "theirs.txt").write_text("theirs")

    with pytest.raises(InvalidInputError, match="already exists"):
        store.save("race", racing, _info())
    assert _entries(tmp_path) == ["race"]
    assert _entries(tmp_path / "race") == (["theirs.txt"] if with_file else [])


def test_stale_temp_dirs_are_invisible_and_cleaned(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, uri_prefix="test://")
    store.save("good", _weights, _info())
    stale = tmp_path / f"{TEMP_PREFIX}old-{HOST_TAG}-999999999-abcd1234"  # a pid no process has here
    stale.mkdir()
    _weights(stale)
    (stale / INFO_FILE).write_text(_info("old").model_dump_json())
    (tmp_path / "no-info").mkdir()  # not an adapter: no genai_mcp.json
    (tmp_path / "bad-info").mkdir()
    (tmp_path / "bad-info" / INFO_FILE).write_text("{not json")
    assert [a.name for a in store.list()] == ["good"]
    assert store.clean_stale() == 1
    assert _entries(tmp_path) == ["bad-info", "good", "no-info"]


def test_clean_stale_spares_a_save_in_progress(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path, uri_prefix="test://")
    removed: list[int] = []

    def write(folder: Path) -> None:
        _weights(folder)
        removed.append(store.clean_stale())  # e.g. another thread tidying up mid-save

    store.save("busy", write, _info())
    assert removed == [0] and store.info("busy").size_bytes > 0


def test_process_killed_during_save_leaves_no_adapter(tmp_path: Path) -> None:
    """A child process starts a save, writes part of the weights, and dies (os._exit: no cleanup)."""
    child = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from genai_mcp.tools.lora.schemas import AdapterInfo
        from genai_mcp.tools.lora.store import AdapterStore

        def write(folder):
            (folder / "adapter_config.json").write_text("{{}}")
            with open(folder / "adapter_model.safetensors", "wb") as f:
                f.write(b"half a tensor")
                f.flush()
                os._exit(1)

        info = AdapterInfo.model_validate_json({_info().model_dump_json()!r})
        AdapterStore(Path({str(tmp_path)!r}), uri_prefix="test://").save("crashed", write, info)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    store = AdapterStore(tmp_path, uri_prefix="test://")
    leftovers = _entries(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(f"{TEMP_PREFIX}crashed-")
    assert store.list() == [] and not store.exists("crashed")
    with pytest.raises(InvalidInputError, match="no adapter named 'crashed'"):
        store.info("crashed")
    assert store.clean_stale() == 1 and _entries(tmp_path) == []
    store.save("crashed", _weights, _info())  # the name is free to use
    assert [a.name for a in store.list()] == ["crashed"]


def test_clean_stale_spares_a_live_process(tmp_path: Path) -> None:
    live = tmp_path / f"{TEMP_PREFIX}theirs-{os.getppid()}-0000abcd"  # our parent is alive
    live.mkdir()
    assert AdapterStore(tmp_path, uri_prefix="test://").clean_stale() == 0 and live.exists()


def test_another_machines_temp_folder_is_removed_only_once_untouched_for_long(tmp_path: Path) -> None:
    """A volume shared by replicas on several machines: a pid from elsewhere says nothing here."""
    store = AdapterStore(tmp_path, uri_prefix="test://")
    elsewhere = tmp_path / f"{TEMP_PREFIX}theirs-0badc0de-999999999-0000abcd"  # dead here, maybe alive there
    elsewhere.mkdir()
    _weights(elsewhere)
    (elsewhere / "adapter_config.json").write_text("{}")
    unreadable = tmp_path / f"{TEMP_PREFIX}odd"  # a name no writer of this version gives: like elsewhere
    unreadable.mkdir()
    assert store.clean_stale() == 0 and _entries(tmp_path) == [unreadable.name, elsewhere.name]
    long_ago = time.time() - STALE_ELSEWHERE_S - 60
    for entry in [elsewhere, *elsewhere.rglob("*"), unreadable]:
        os.utime(entry, (long_ago, long_ago))
    (elsewhere / "adapter_config.json").touch()  # still being written there: one fresh file is enough
    assert store.clean_stale() == 1 and _entries(tmp_path) == [elsewhere.name]
    os.utime(elsewhere / "adapter_config.json", (long_ago, long_ago))
    assert store.clean_stale() == 1 and _entries(tmp_path) == []


_DELETER = """
import sys
from pathlib import Path
from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.lora.store import AdapterStore
store = AdapterStore(Path(sys.argv[1]), uri_prefix="test://adapters/")
deleted = 0
for i in range(60):
    try:
        store.delete(f"a{i}")
        deleted += 1
    except InvalidInputError:
        pass  # the other server got there first
print(deleted)
"""


def test_two_servers_deleting_the_same_adapters_each_get_a_clear_answer(tmp_path: Path) -> None:
    # Two processes sharing one adapters folder (replicas on a volume) delete the same 60 adapters:
    # each adapter is deleted once, and the loser of a race gets InvalidInputError, never a crash.
    store = AdapterStore(tmp_path / "adapters", uri_prefix="test://adapters/")
    for i in range(60):
        store.save(f"a{i}", _weights, _info())
    deleters = [
        subprocess.Popen(
            [sys.executable, "-c", _DELETER, str(store.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [d.communicate(timeout=120) for d in deleters]
    assert [d.returncode for d in deleters] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    assert sum(int(out) for out, _ in outputs) == 60
    assert store.list() == [] and _entries(store.root) == []
