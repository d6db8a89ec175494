"""genai-mcp: generative-AI tools over MCP, and a host that drives MCP servers.

    genai_mcp.tools    the domain: models, images, text, diffusion, metrics, retrieval, LoRA
    genai_mcp.server   the MCP face of tools: `genai-mcp serve`
    genai_mcp.client   the host: `genai-mcp host ...` and `genai_mcp.client.Host`
    genai_mcp.cli      the `genai-mcp` command

The three subpackages are the top-level folders tools/, server/ and client/ of the checkout,
reached through the relative links genai_mcp/tools -> ../tools and so on (README, "Layout").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["__version__"]

if TYPE_CHECKING:
    __version__: str
else:
    # Looked up on first use: importlib.metadata costs ~25 ms, which `import genai_mcp.tools`
    # (and the server's start-up) need not pay. Hidden from type checkers, for whom a module
    # __getattr__ would make every misspelt attribute of genai_mcp valid.
    def __getattr__(name: str) -> str:
        if name == "__version__":
            value = _version()
            globals()["__version__"] = value
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version() -> str:
    """The installed distribution's version; for a tree that was never installed, pyproject.toml's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-mcp")
    except PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    try:
        with (Path(__file__).parent.parent / "pyproject.toml").open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0+unknown"
