"""Old home of the `genai-mcp` command, which is now genai_mcp/cli.py.

Kept only so `from genai_mcp.client.cli import main` (tests/client/test_cli.py) keeps working;
delete it once nothing imports it.
"""

from __future__ import annotations

from genai_mcp.cli import main

__all__ = ["main"]
