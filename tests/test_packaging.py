"""The package as tools and installers see it: version, entry point, links, editable install, wheel.

genai_mcp/ holds relative links to the top-level server/, client/ and tools/ (README, "Layout");
these tests check that each consumer of that arrangement gets every file through it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import genai_mcp
import genai_mcp.cli
from genai_mcp.client import errors as host_errors

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("server", "client", "tools")


def test_version_comes_from_the_installed_metadata() -> None:
    assert genai_mcp.__version__ == importlib.metadata.version("genai-mcp")


def test_an_uninstalled_tree_reads_its_version_from_pyproject(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert genai_mcp._version() == project["version"]


def test_the_console_script_is_genai_mcp_cli() -> None:
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="genai-mcp")
    assert script.value == "genai_mcp.cli:run"
    assert script.load() is genai_mcp.cli.run
    done = subprocess.run(
        [str(Path(sys.executable).with_name("genai-mcp")), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "{serve,worker,host}" in done.stdout


@pytest.mark.parametrize("room", ROOMS)
def test_the_rooms_are_relative_links(room: str) -> None:
    link = REPO / "genai_mcp" / room
    assert link.is_symlink() and os.readlink(link) == f"../{room}"  # a moved checkout keeps them


def test_the_editable_install_is_a_static_path_to_this_checkout(tmp_path: Path) -> None:
    # The venv's own record: a checkout's genai_mcp.egg-info (a by-product of pip's metadata step)
    # comes first on pytest's sys.path but says nothing about how the project was installed.
    site = sysconfig.get_paths()["purelib"]
    dist = next(iter(importlib.metadata.distributions(name="genai-mcp", path=[site])), None)
    if dist is None:
        pytest.skip("genai-mcp is not installed in this venv")
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    if not direct_url.get("dir_info", {}).get("editable"):
        pytest.skip("genai-mcp is not installed in editable mode")
    files = [str(f) for f in dist.files or []]
    assert not [f for f in files if f.endswith("_finder.py")], "an import hook: static tools cannot follow it"
    (pth,) = [f for f in files if f.endswith(".pth")]
    lines = Path(str(dist.locate_file(pth))).read_text().split()
    assert [Path(line).resolve() for line in lines] == [REPO]
    # A fresh interpreter (not this test process, whose sys.path pytest extended) imports this
    # checkout's code: a venv carried along from a moved or copied checkout fails here.
    done = subprocess.run(
        [sys.executable, "-I", "-c", "import genai_mcp.server; print(genai_mcp.server.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == REPO / "server" / "__init__.py"


def test_the_rooms_import_each_other_only_as_genai_mcp() -> None:
    # The editable install puts the checkout's root on sys.path (as pytest does), where `import
    # tools` would also work; it would load a second copy of the code and fail once installed.
    found: list[str] = []
    for path in sorted(p for room in ROOMS for p in (REPO / room).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name.split(".")[0] in ROOMS for name in names):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found


def test_public_error_classes_are_in_the_documented_tree() -> None:
    doc = host_errors.__doc__ or ""
    for name in host_errors.__all__:
        cls = getattr(host_errors, name)
        assert issubclass(cls, BaseException)
        assert re.search(rf"^[\s│]+(?:[├└]── )?{name}\s", doc, re.M), f"{name} missing from the error tree"


def _tree_copy(dest: Path) -> None:
    """The files a clean clone would have, with the working tree's edits (links stay links)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src, out = REPO / rel, dest / rel
        if not src.is_symlink() and not src.is_file():
            continue  # deleted in the working tree, or a folder reached through a link
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            out.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, out)


def _build(kind: str, project: Path, out: Path) -> Path:
    """Build with setuptools' PEP 517 backend from this venv (no isolated env to download)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta; print(build_meta.build_{kind}({str(out)!r}))",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout"
)
def test_wheel_and_sdist_hold_every_tracked_file(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", *ROOMS], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    expected = {f"genai_mcp/{rel}" for rel in filter(None, tracked.split("\0")) if (REPO / rel).is_file()}
    assert any(name.endswith(".safetensors") for name in expected)  # the house model weights
    expected |= {"genai_mcp/__init__.py", "genai_mcp/cli.py", "genai_mcp/py.typed"}

    tree, out = tmp_path / "tree", tmp_path / "dist"
    _tree_copy(tree)
    out.mkdir()
    wheel = _build("wheel", tree, out)  # what `pip install .` builds
    sdist = _build("sdist", tree, out)
    with tarfile.open(sdist) as tar:
        prefix = tar.getnames()[0].split("/")[0] + "/"
        in_sdist = {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile()}
        assert not [m.name for m in tar.getmembers() if m.issym()]  # links become plain files
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert expected <= in_sdist, sorted(expected - in_sdist)[:20]
    from_sdist = tmp_path / "dist-from-sdist"
    from_sdist.mkdir()
    wheel_from_sdist = _build("wheel", tmp_path / "unpacked" / prefix, from_sdist)  # `python -m build`

    for built in (wheel, wheel_from_sdist):
        with zipfile.ZipFile(built) as zf:
            names = set(zf.namelist())
            entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
        assert expected <= names, (built.name, sorted(expected - names)[:20])
        assert {n.split("/")[0] for n in names} == {
            "genai_mcp",
            "genai_mcp-" + genai_mcp.__version__ + ".dist-info",
        }
        assert "genai-mcp = genai_mcp.cli:run" in entry_points.decode()
