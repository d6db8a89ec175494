"""The `local` sampling backend: a server's sampling request answered by the house causal LM in the host."""

from __future__ import annotations

import anyio

from genai_mcp.client import Host
from tests.helpers.host_entries import callbacks_entry


def test_local_backend_answers_with_the_house_model() -> None:
    # The tool asks for temperature 0 (greedy), so the same request gives the same text.
    config = {"mcpServers": {"cb": callbacks_entry(sampling={"backend": "local", "max_tokens": 8})}}

    async def main() -> list[dict[str, object]]:
        async with Host.from_config(config) as host:
            results = []
            for _ in range(2):
                result = await host.call_tool("cb.summarize", {"text": "the json module"}, timeout=300)
                assert not result.is_error, result.content
                assert result.structured_content is not None
                results.append(result.structured_content)
            return results

    first, second = anyio.run(main)
    assert first == second
    assert first["model"] == "house/gpt2-pydocs"
    assert first["stop_reason"] in ("maxTokens", "endTurn")
    assert isinstance(first["summary"], str) and first["summary"]
