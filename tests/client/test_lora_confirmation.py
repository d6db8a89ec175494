"""The host confirms a real `genai-mcp serve` process's fine-tuning at the terminal, over stdio:
the plan is shown, the user shortens the run, then declines a second one; without a terminal the
host says why it declined and how to confirm by config."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
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


def test_without_a_terminal_the_host_says_why_it_declined_and_how_to_confirm(tmp_path: Path) -> None:
    """`genai-mcp host` with stdin not a terminal (a pipe at end of input): the confirmation is
    declined, the host says once that nobody could be asked, and the answers it suggests confirm."""
    data_dir = tmp_path / "data"
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"genai": genai_stdio_entry(data_dir)}}))
    args = {"task": "causal-lm", "dataset": TEXTS, "name": "herons", "wait_seconds": 60}
    command = [str(Path(sys.executable).with_name("genai-mcp")), "host", "--config", str(config), "--json"]
    command += ["call", "genai.lora_finetune", "--args", json.dumps(args)]

    def run() -> subprocess.CompletedProcess[str]:  # stdin: a pipe that ends at once, not a terminal
        return subprocess.run(command, input="", capture_output=True, text=True, timeout=180)

    declined = run()
    assert declined.returncode == 0, declined.stderr
    assert json.loads(declined.stdout)["structured_content"]["status"] == "declined"
    said = declined.stderr
    assert said.count("Declined: no terminal to answer on (stdin is not a terminal).") == 1, said
    assert "[genai] asks: Fine-tune house/gpt2-pydocs with LoRA" in said
    suggested = re.search(r'give server \'genai\' "elicitation": (\{.*?\}\}) in the host config', said)
    assert suggested, said
    policy = json.loads(suggested.group(1))
    assert policy["mode"] == "answers" and set(policy["answers"]) == {"max_steps", "learning_rate"}
    assert not (data_dir / "adapters" / "herons").exists()

    # The suggestion, pasted into the config, confirms without a terminal.
    policy["answers"]["max_steps"] = 3
    entry = genai_stdio_entry(data_dir, elicitation=policy)
    config.write_text(json.dumps({"mcpServers": {"genai": entry}}))
    confirmed = run()
    assert confirmed.returncode == 0, confirmed.stderr
    result = json.loads(confirmed.stdout)["structured_content"]
    assert result["status"] == "succeeded" and result["job"]["result"]["steps_done"] == 3, result
    assert "no terminal" not in confirmed.stderr
    assert (data_dir / "adapters" / "herons" / "adapter_model.safetensors").is_file()
