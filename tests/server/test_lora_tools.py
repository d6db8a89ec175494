"""lora_finetune and the job tools through MCP clients, in memory, on the house models.

Real training throughout (a few dozen steps each): confirmation by elicitation in both protocol
eras (accepted with changed steps, declined), clients without elicitation (refused, or started with
confirm=true), the job handle, cancellation, the queue bound, other tools answering during
training, and the adapters then used by generate_text and classify_image.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult
from PIL import Image, ImageOps

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.house.digits import digit_images
from genai_mcp.tools.lora.store import HOST_TAG
from tests.helpers.results import ok, run_client, text_of

ZEBRA = [
    f"the zebra number {i} sings softly in the {place} at dawn, and the zebra number {i + 1} answers."
    for i, place in enumerate(["library", "garden", "harbour", "kitchen", "tower", "market"] * 7)
]


@dataclass
class Setup:
    server: MCPServer[Any]
    settings: ServerSettings
    root: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("lora")
    root = base / "root"
    root.mkdir()
    (root / "zebra.txt").write_text("\n\n".join(ZEBRA), encoding="utf-8")
    # Colour-inverted digits, one folder per class: the house ViT has only seen bright ink on dark.
    images, labels = digit_images("train")
    for i, (image, label) in enumerate(zip(images[:400], labels[:400], strict=True)):
        folder = root / "inverted" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        ImageOps.invert(image.convert("RGB")).save(folder / f"{i}.png")
    settings = ServerSettings(data_dir=base / "data", roots=[root], log_level="WARNING", lora_max_rank=16)
    return Setup(create_server(settings), settings, root)


def run(setup: Setup, check: Callable[[Client], Awaitable[None]], **client: Any) -> None:
    run_client(setup.server, check, **client)


def adapters_on_disk(setup: Setup) -> set[str]:
    folder = setup.settings.adapters_dir
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


async def poll(client: Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """job_status until the job is final or `timeout` s: what a client is told to do after
    wait_seconds=0. MCP gives it nothing to wait on, so this is a bounded poll of the real state."""
    deadline = time.monotonic() + timeout
    while True:
        job = ok(await client.call_tool("job_status", {"job_id": job_id}))
        if job["state"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        await anyio.sleep(0.2)


class Answers:
    """An elicitation callback that records what it was asked and answers as told."""

    def __init__(self, action: str, content: dict[str, Any] | None = None) -> None:
        self.action, self.content = action, content
        self.asked: list[ElicitRequestFormParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params)
        return ElicitResult(action=self.action, content=self.content)  # type: ignore[arg-type]


# ---- listing


def test_tools_and_resources_are_listed_with_annotations(setup: Setup) -> None:
    async def check(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        expected = {
            "lora_finetune": (False, False, False, False),
            "job_status": (True, False, True, False),
            "list_jobs": (True, False, True, False),
            "cancel_job": (False, True, True, False),
            "delete_adapter": (False, True, True, False),
        }
        for name, hints in expected.items():
            a = tools[name].annotations
            assert a is not None and tools[name].output_schema is not None
            assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == hints
        props = tools["lora_finetune"].input_schema["properties"]
        assert {
            "task",
            "dataset",
            "base_model",
            "rank",
            "alpha",
            "target_modules",
            "confirm",
            "wait_seconds",
        } <= set(props)
        assert "confirmation" not in props and "ctx" not in props  # resolved, not arguments
        assert "adapter" in tools["generate_text"].input_schema["properties"]
        assert "adapter" in tools["classify_image"].input_schema["properties"]
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"adapters://{name}", "adapters://{name}/card"} <= templates

    run(setup, check)


# ---- confirmation


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_accepted_confirmation_trains_with_the_users_changes(setup: Setup, mode: str) -> None:
    answers = Answers("accept", {"max_steps": 12, "learning_rate": 0.003})
    name = f"zebra-{mode}"

    async def check(client: Client) -> None:
        args = {"task": "causal-lm", "dataset": "zebra.txt", "name": name, "batch_size": 4, "max_steps": 40}
        out = ok(await client.call_tool("lora_finetune", args))
        assert out["status"] == "succeeded", out["note"]
        result = out["job"]["result"]
        assert result["steps_done"] == 12  # the user's answer, not the 40 asked for
        assert result["eval_metric"] == "perplexity"
        assert result["eval_loss_after"] < result["eval_loss_before"]
        assert 0 < result["plan"]["trainable_share"] < 0.2

    run(setup, check, mode=mode, elicitation_callback=answers)
    (asked,) = answers.asked
    assert "trainable" in asked.message.lower() and "40 steps" in asked.message
    assert asked.requested_schema["properties"]["max_steps"]["default"] == 40
    assert name in adapters_on_disk(setup)


def test_declined_confirmation_trains_nothing(setup: Setup) -> None:
    async def check(client: Client) -> None:
        out = ok(
            await client.call_tool("lora_finetune", {"task": "causal-lm", "dataset": ZEBRA, "name": "nope"})
        )
        assert out["status"] == "declined" and out["job"] is None
        assert out["plan"]["trainable_params"] > 0
        assert all(j["adapter"] != "nope" for j in ok(await client.call_tool("list_jobs", {}))["jobs"])

    run(setup, check, elicitation_callback=Answers("decline"))
    assert "nope" not in adapters_on_disk(setup)


def test_without_elicitation_confirm_true_is_required(setup: Setup) -> None:
    async def check(client: Client) -> None:
        args: dict[str, Any] = {
            "task": "causal-lm",
            "dataset": ZEBRA[:12],
            "name": "confirmed",
            "max_steps": 4,
        }
        refused = await client.call_tool("lora_finetune", args)
        assert refused.is_error and "confirm=true" in text_of(refused)
        started = ok(await client.call_tool("lora_finetune", {**args, "confirm": True, "wait_seconds": 0}))
        assert started["status"] in ("queued", "running") and "job_status" in started["note"]
        job = await poll(client, started["job"]["job_id"])
        assert job["state"] == "succeeded", job["error"]
        assert job["step"] == 4 and len(job["loss_curve"]) == 4

    run(setup, check)
    assert "confirmed" in adapters_on_disk(setup)


# ---- jobs


def test_queue_cancel_and_other_tools_answer_while_training(setup: Setup) -> None:
    async def check(client: Client) -> None:
        long = {
            "task": "causal-lm",
            "dataset": "zebra.txt",
            "max_steps": 1500,
            "confirm": True,
            "wait_seconds": 0,
        }
        first = ok(await client.call_tool("lora_finetune", {**long, "name": "long-a"}))["job"]
        second = ok(await client.call_tool("lora_finetune", {**long, "name": "long-b"}))["job"]
        assert second["state"] == "queued" and second["queue_position"] == 1
        busy = await client.call_tool("lora_finetune", {**long, "name": "long-c"})
        assert busy.is_error and "busy" in text_of(busy) and "GENAI_MCP_LORA_MAX_QUEUED" in text_of(busy)

        # Training runs on its own thread: a metric and a classification still answer meanwhile.
        metric = ok(
            await client.call_tool("classification_metrics", {"y_true": [1, 0, 1], "y_pred": [1, 0, 0]})
        )
        assert metric["classification"]["accuracy"] == pytest.approx(2 / 3)
        assert ok(await client.call_tool("job_status", {"job_id": first["job_id"]}))["state"] == "running"

        assert ok(await client.call_tool("cancel_job", {"job_id": second["job_id"]}))["state"] == "cancelled"
        cancelled = ok(await client.call_tool("cancel_job", {"job_id": first["job_id"]}))
        assert cancelled["state"] == "cancelled" and cancelled["step"] < 1500
        listed = [j["adapter"] for j in ok(await client.call_tool("list_jobs", {}))["jobs"]]
        assert listed[:2] == ["long-b", "long-a"]

    run(setup, check)
    assert not {"long-a", "long-b", "long-c"} & adapters_on_disk(setup)
    assert not [p for p in setup.settings.adapters_dir.iterdir() if p.name.startswith(".")]


# ---- adapters in use


def test_text_adapter_changes_generate_text(setup: Setup) -> None:
    async def check(client: Client) -> None:
        args = {
            "task": "causal-lm",
            "dataset": "zebra.txt",
            "name": "zebra-gen",
            "max_steps": 60,
            "confirm": True,
        }
        reports: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            reports.append((progress, total, message))

        out = ok(
            await client.call_tool(
                "lora_finetune", {**args, "wait_seconds": 120}, progress_callback=on_progress
            )
        )
        assert out["status"] == "succeeded", out["note"]
        assert reports[-1][:2] == (60, 60) and "loss" in (reports[-1][2] or ""), reports[-3:]
        prompt = {"prompt": "It was late. ", "max_new_tokens": 16, "temperature": 0}
        base = ok(await client.call_tool("generate_text", prompt))
        tuned = ok(await client.call_tool("generate_text", {**prompt, "adapter": "zebra-gen"}))
        assert tuned["model"].endswith("+adapter:zebra-gen")
        assert tuned["text"] != base["text"]
        assert "sings" in tuned["text"] or "zebra" in tuned["text"], tuned["text"]
        # Scored by the adapter, the training style is far likelier.
        text = {"text": ZEBRA[5]}
        before = ok(await client.call_tool("perplexity", text))["perplexity"]
        after = ok(await client.call_tool("perplexity", {**text, "adapter": "zebra-gen"}))["perplexity"]
        assert after < before / 2, (before, after)

        listing = json.loads((await client.read_resource("adapters://list")).contents[0].text)  # type: ignore[union-attr]
        assert "zebra-gen" in [a["name"] for a in listing["adapters"]]
        card = (await client.read_resource("adapters://zebra-gen/card")).contents[0].text  # type: ignore[union-attr]
        assert "house/gpt2-pydocs" in card

        wrong = await client.call_tool(
            "classify_image", {"image": _png_b64(Image.new("RGB", (16, 16))), "adapter": "zebra-gen"}
        )
        assert wrong.is_error and "causal-lm" in text_of(wrong)
        unknown = await client.call_tool("generate_text", {**prompt, "adapter": "no-such"})
        assert unknown.is_error and "no-such" in text_of(unknown)
        assert ok(await client.call_tool("delete_adapter", {"name": "zebra-gen"}))["deleted"] == "zebra-gen"
        gone = await client.call_tool("generate_text", {**prompt, "adapter": "zebra-gen"})
        assert gone.is_error

    run(setup, check)


def test_image_adapter_learns_inverted_digits_and_classify_image_uses_it(setup: Setup) -> None:
    held_out, truth = digit_images("test")
    specs = [_png_b64(ImageOps.invert(im.convert("RGB"))) for im in held_out[:60]]

    async def accuracy(client: Client, **extra: Any) -> float:
        out = ok(await client.call_tool("classify_image", {"image": specs, "top_k": 1, **extra}))
        top: list[str] = [r["labels"][0]["label"] for r in out["results"]]
        return sum(t == str(y) for t, y in zip(top, truth[:60], strict=True)) / len(specs)

    async def check(client: Client) -> None:
        args = {"task": "image-classification", "dataset": "inverted", "name": "inverted", "confirm": True}
        out = ok(
            await client.call_tool(
                "lora_finetune", {**args, "epochs": 8, "batch_size": 32, "wait_seconds": 120}
            )
        )
        assert out["status"] == "succeeded", out["note"]
        result = out["job"]["result"]
        assert result["eval_metric"] == "accuracy"
        assert result["metric_after"] - result["metric_before"] >= 0.30, result
        base, tuned = await accuracy(client), await accuracy(client, adapter="inverted")
        assert tuned - base >= 0.30, (base, tuned)

    run(setup, check)


# ---- bad input


def test_bad_requests_are_clear_tool_errors_and_the_server_goes_on(setup: Setup) -> None:
    async def check(client: Client) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"task": "causal-lm", "dataset": []}, "empty"),
            ({"task": "causal-lm", "dataset": ZEBRA, "rank": 64}, "GENAI_MCP_LORA_MAX_RANK"),
            ({"task": "causal-lm", "dataset": "../etc/passwd"}, ".."),
            ({"task": "causal-lm", "dataset": "zebra.txt", "max_steps": 5, "epochs": 2}, "not both"),
            ({"task": "image-classification", "dataset": ZEBRA}, "image"),
            ({"task": "causal-lm", "dataset": ZEBRA, "target_modules": ["nonexistent"]}, "nonexistent"),
            ({"task": "causal-lm", "dataset": ZEBRA, "name": "bad/name"}, "name"),
            ({"task": "causal-lm", "dataset": ZEBRA, "base_model": "house/vit-digits"}, "house/vit-digits"),
        ]
        for args, expected in cases:
            result = await client.call_tool("lora_finetune", {**args, "confirm": True, "wait_seconds": 0})
            assert result.is_error, args
            assert expected in text_of(result), (args, text_of(result))
        missing = await client.call_tool("job_status", {"job_id": "lora-00000000"})
        assert missing.is_error and "list the jobs" in text_of(missing)
        assert ok(await client.call_tool("list_jobs", {}))["jobs"] is not None

    run(setup, check)


def _png_b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_start_up_removes_what_a_killed_save_left_behind(tmp_path: Path) -> None:
    adapters = tmp_path / "data" / "adapters"
    stale = adapters / f".tmp-zebra-{HOST_TAG}-999999999-0a1b"  # no such process
    stale.mkdir(parents=True)
    (stale / "adapter_model.safetensors").write_bytes(b"half")
    server = create_server(ServerSettings(data_dir=tmp_path / "data", log_level="WARNING"))
    assert stale.exists()  # building a server touches no disk: the clean-up is the lifespan's

    async def connect() -> None:
        async with Client(server) as client:
            await client.list_tools()

    anyio.run(connect)
    assert not stale.exists()
