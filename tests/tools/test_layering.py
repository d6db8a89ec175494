"""The direction of dependencies inside the project, read from the source (imports anywhere in a
module, deferred ones included): tools/ is the domain and knows nothing of MCP or of the rooms
above it; inside tools/, training (lora) builds on the rest and nothing else builds on it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
TOOLS = ROOT / "tools"
BELOW_TRAINING = ("text", "vision", "models", "diffusion", "rag", "metrics", "house")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def uri_literals(path: Path) -> list[str]:
    """String constants that begin with an MCP resource scheme: URIs being built, not prose."""
    schemes = ("adapters://", "genai-mcp://", "models://")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and n.value.startswith(schemes)
        and " " not in n.value
    ]


def test_tools_never_import_mcp_the_server_or_the_client() -> None:
    for path in TOOLS.rglob("*.py"):
        bad = {
            m
            for m in imports(path)
            if m.split(".")[0] == "mcp" or m.startswith(("genai_mcp.server", "genai_mcp.client"))
        }
        assert not bad, (path, bad)


def test_nothing_below_training_imports_lora() -> None:
    for package in BELOW_TRAINING:
        for path in (TOOLS / package).rglob("*.py"):
            bad = {m for m in imports(path) if m.startswith("genai_mcp.tools.lora")}
            assert not bad, (path, bad)


def test_tools_build_no_mcp_uris() -> None:
    for path in TOOLS.rglob("*.py"):
        assert not uri_literals(path), path
