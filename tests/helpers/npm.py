"""npm packages the end-to-end tests drive (tests/e2e/*/package.json), installed exactly as locked."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["locked_install"]


def _installed_matches_lock(folder: Path) -> bool:
    try:  # npm's own record of what node_modules holds
        installed = json.loads((folder / "node_modules" / ".package-lock.json").read_text())["packages"]
    except (OSError, ValueError, KeyError):
        return False
    locked = json.loads((folder / "package-lock.json").read_text())["packages"]
    return bool(installed == {path: entry for path, entry in locked.items() if path})


def locked_install(folder: Path) -> Path:
    """`folder` with exactly its locked packages in node_modules (`npm ci` unless already so).

    Without node and npm the calling test fails saying so: these tests are never skipped."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found on PATH: this test needs Node.js 20+ and npm")
    with open(folder / "package-lock.json", "rb") as lock:  # another pytest in this checkout may install too
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed_matches_lock(folder):
            npm = ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"]
            done = subprocess.run(npm, cwd=folder, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"npm ci in {folder} failed:\n{done.stdout}\n{done.stderr}"
    return folder
