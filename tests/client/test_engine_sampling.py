"""The host's `openai` sampling backend on a real engine: `genai-mcp serve`'s describe_image asks the
host's LLM, and the host answers through `transformers serve` (tests/helpers/engine.py) with the
same engine client the server's generate_text uses."""

from __future__ import annotations

from pathlib import Path

import anyio

from genai_mcp.client import Host
from genai_mcp.tools.house.digits import digit_images
from tests.helpers.engine import ENGINE_MODEL, RunningEngine
from tests.helpers.host_entries import genai_stdio_entry
from tests.helpers.images import b64, encode


def test_the_host_answers_describe_image_through_the_engine(
    running_engine: RunningEngine, tmp_path: Path
) -> None:
    images, _ = digit_images("test")
    image = b64(encode(images[0]))
    sampling = {"backend": "openai", "url": running_engine.url, "model": ENGINE_MODEL, "max_tokens": 16}
    # The house GPT-2 attends over 256 tokens, and an engine cannot cut a prompt to fit (the local
    # backend does, in-process): one classifier label and two zero-shot labels keep the question short.
    args = {"image": image, "top_k": 1, "labels": ["seven", "one"]}
    config = {"mcpServers": {"local": genai_stdio_entry(tmp_path / "data", sampling=sampling)}}

    async def main() -> dict[str, object]:
        async with Host.from_config(config) as host:
            result = await host.call_tool("local.describe_image", args, timeout=300)
            assert not result.is_error, result.content
            content: dict[str, object] | None = result.structured_content
            assert content is not None
            return content

    described = anyio.run(main)
    assert described["description_status"] == "produced", described["description_note"]
    assert isinstance(described["description"], str) and described["description"]
    assert ENGINE_MODEL in str(described["description_note"])  # the model the host's engine named
    # The engine saw the request: transformers serve logs each one it answers.
    assert 'POST /v1/chat/completions HTTP/1.1" 200' in running_engine.log_path.read_text()
