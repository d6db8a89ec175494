"""The host confirms a real `genai-mcp serve` process's fine-tuning at the terminal, over stdio:
the plan is shown, the user shortens the run, then declines a second one."""

from __future__ import annotations

import io
from pathlib import Path

import anyio

from genai_mcp.client import Host, Terminal
from tests.helpers.host_entries import genai_stdio_entry

TEXTS = [
    f"the heron number {i} fishes quietly by the {place}." for i, place in enumerate(["pier", "reeds"] * 6)
]


def test_terminal_form_confirms_then_declines_lora_finetune(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = {"mcpServers": {"genai": genai_stdio_entry(data_dir, elicitation={"mode": "terminal"})}}
    typed = ["a", "3", ""]  # accept; max_steps 3; learning rate: the plan's default
    typed += ["d"]  # the second request: decline
    shown = io.StringIO()
    terminal = Terminal(io.StringIO("\n".join(typed) + "\n"), shown)

    async def main() -> None:
        async with Host.from_config(config, terminal=terminal) as host:
            args = {"task": "causal-lm", "dataset": TEXTS, "name": "herons", "wait_seconds": 60}
            done = await host.call_tool("genai.lora_finetune", args, timeout=120)
            assert not done.is_error, done.content
            out = done.structured_content or {}
            assert out["status"] == "succeeded", out["note"]
            assert out["job"]["result"]["steps_done"] == 3
            again = await host.call_tool("genai.lora_finetune", {**args, "name": "herons-2"}, timeout=120)
            assert (again.structured_content or {})["status"] == "declined"

    anyio.run(main)
    prompts = shown.getvalue()
    assert "Trainable:" in prompts and "max_steps" in prompts and "learning_rate" in prompts
    assert (data_dir / "adapters" / "herons" / "adapter_model.safetensors").is_file()
    assert not (data_dir / "adapters" / "herons-2").exists()
