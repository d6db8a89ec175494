"""The genai-mcp tour, through the host: two genai-mcp servers, 17 of their 29 tools, offline.

`make demo` runs it. It starts genai-mcp twice, as an assistant would: over stdio ("local") and over
streamable HTTP with a bearer token ("remote"), connects both through genai_mcp.client.Host, and
calls these with a progress bar: the three metrics, classify_image, zero_shot_classify,
describe_image, generate_text, perplexity, sample_images, denoise_image, generate_image, edit_image,
interpolate_images, rag_index, rag_search, rag_answer and lora_finetune (not the housekeeping tools
job_status, list_jobs, cancel_job, delete_adapter, rag_collections, rag_delete, the model-anatomy
tools, nor the VAE tools encode_image, decode_latent, latent_arithmetic). The house models are tiny
(16x16 digits, a 1M-parameter GPT-2): the point is real models behind real protocol, not impressive
output. Image previews are saved under the folder printed at the end; the full-size PNGs are where
the server keeps them, its outputs folder, and each is printed with its path.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.types import CallToolResult, ImageContent, ResourceLink
from rich.console import Console
from rich.table import Table

from genai_mcp.client import Host, ProgressBars

console = Console()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_http_server(port: int, token: str, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GENAI_MCP_TOKENS": token, "GENAI_MCP_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "genai_mcp.server.cli", "serve", "--transport", "http", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "WARNING"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the HTTP server did not start")


def host_config(data_dir: str, port: int) -> dict[str, Any]:
    return {
        "mcpServers": {
            "local": {
                "command": sys.executable,
                "args": ["-m", "genai_mcp.server.cli", "serve", "--log-level", "WARNING"],
                # A stdio child sees only an allow-listed environment: pass what it needs.
                "env": {"HF_HUB_OFFLINE": "1", "GENAI_MCP_DATA_DIR": data_dir},
                # Its log records reach the host as MCP log messages, printed below; its raw stderr
                # (the same records, and a traceback should it crash) goes to <out>/logs/local.log.
                "stderr": "file",
                # describe_image asks the host's LLM; here that is the house GPT-2, run by the host.
                "sampling": {"backend": "local", "max_tokens": 32, "seed": 0},
                # lora_finetune asks for a confirmation; a script answers it by policy: accept the
                # plan, changing only the step count (a person at a terminal would use mode "terminal").
                "elicitation": {"mode": "answers", "answers": {"max_steps": 60}},
            },
            "remote": {
                "url": f"http://127.0.0.1:{port}/mcp",
                "headers": {"Authorization": "Bearer ${DEMO_TOKEN}"},  # expanded from the environment
            },
        }
    }


def digit_png(index: int) -> tuple[str, int]:
    """A held-out handwritten digit as base64 PNG, and its true label."""
    from genai_mcp.tools.house.digits import digit_images

    images, labels = digit_images("test")
    buf = io.BytesIO()
    images[index].save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode(), labels[index]


def table(title: str, rows: list[tuple[str, Any]]) -> None:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column()
    t.add_column(overflow="fold")  # long values (paths) wrap, never end in an ellipsis
    for key, value in rows:
        t.add_row(key, value if isinstance(value, str) else json.dumps(value))
    console.print(t)


async def call(host: Host, bars: ProgressBars, name: str, args: dict[str, Any]) -> CallToolResult:
    t0 = time.perf_counter()
    result = await host.call_tool(name, args, progress=bars.track(name), timeout=300)
    if result.is_error:
        raise SystemExit(f"{name} failed: {result.content[0]}")
    console.print(f"[bold cyan]{name}[/] answered in {time.perf_counter() - t0:.2f} s")
    return result


def save_images(result: CallToolResult, out_dir: Path, stem: str) -> list[tuple[str, Any]]:
    """Rows for a table: each preview saved under `out_dir`, each full-size PNG the server kept.

    The server writes full-size PNGs to its outputs folder (<data dir>/outputs/) and links them as
    genai-mcp://outputs/<name>; the local server's data dir is `out_dir`/local-data.
    """
    outputs = out_dir / "local-data" / "outputs"
    rows: list[tuple[str, Any]] = []
    for i, block in enumerate(result.content):
        if isinstance(block, ImageContent):
            path = out_dir / f"{stem}-preview-{i}.png"
            path.write_bytes(base64.b64decode(block.data))
            rows.append(("preview", str(path)))
        elif isinstance(block, ResourceLink):
            path = outputs / str(block.uri).rsplit("/", 1)[-1]
            if not path.is_file():
                raise SystemExit(f"{block.uri} is not at {path}")
            rows.append(("full size", f"{path.name}  ({block.uri})"))
    return rows


def say_outputs(out_dir: Path) -> None:
    """Where the full-size PNGs are on disk, whole on one line whatever the terminal's width."""
    outputs = out_dir / "local-data" / "outputs"
    console.print(
        f"full-size PNGs are files in the local server's outputs folder: {outputs}/", soft_wrap=True
    )


async def metrics(host: Host, bars: ProgressBars) -> None:
    r = await call(
        host,
        bars,
        "remote.text_metrics",
        {
            "candidates": ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."],
            "references": [
                ["The dog bit the man.", "The dog had bit the man."],
                ["It was not unexpected.", "No one was surprised."],
                ["The man bit him first.", "The man had bitten the dog."],
            ],
        },
    )
    text = r.structured_content or {}
    table(
        "text_metrics (remote, HTTP + bearer token)",
        [
            ("BLEU", f"{text['bleu']['corpus']['score']:.2f}"),
            ("chrF", f"{text['chrf']['corpus']:.2f}"),
            *((k.upper(), "F1 {f1:.3f}".format(**text[k]["mean"])) for k in ("rouge1", "rouge2", "rougeL")),
        ],
    )
    r = await call(
        host,
        bars,
        "remote.classification_metrics",
        {"y_true": ["cat", "dog", "dog", "bird", "cat"], "y_pred": ["cat", "dog", "cat", "bird", "cat"]},
    )
    scores = (r.structured_content or {})["classification"]
    table(
        "classification_metrics (macro)",
        [(k, f"{scores[k]:.3f}") for k in ("accuracy", "precision", "recall", "f1", "specificity")]
        + [("confusion (rows = true)", f"{scores['labels']}: {scores['confusion_matrix']}")],
    )
    r = await call(
        host,
        bars,
        "remote.retrieval_metrics",
        {"queries": [{"retrieved": ["d3", "d1", "d7", "d2"], "relevant": ["d1", "d2"]}], "k": [1, 3]},
    )
    ret = r.structured_content or {}
    table(
        "retrieval_metrics",
        [("MRR", f"{ret['mrr']:.3f}")]
        + [
            (f"@{m['k']}", f"P {m['precision']:.2f}  R {m['recall']:.2f}  nDCG {m['ndcg']:.3f}")
            for m in ret["mean_at_k"]
        ],
    )


async def vision(host: Host, bars: ProgressBars) -> None:
    image, label = digit_png(7)
    r = await call(host, bars, "local.classify_image", {"image": image, "top_k": 3})
    top = (r.structured_content or {})["results"][0]["labels"]
    table(
        f"classify_image (house ViT), a held-out {label}",
        [(x["label"], f"{x['probability']:.3f}") for x in top],
    )
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    r = await call(
        host,
        bars,
        "local.zero_shot_classify",
        {"image": image, "labels": names, "templates": ["a photo of the digit {}", "a handwritten {}"]},
    )
    z = (r.structured_content or {})["results"][0]
    table(
        "zero_shot_classify (house CLIP)",
        [("best", z["best_label"]), ("probability", f"{z['best_probability']:.3f}")],
    )
    r = await call(host, bars, "local.describe_image", {"image": image, "labels": names})
    d = r.structured_content or {}
    table(
        "describe_image (sampling answered by the host's house GPT-2)",
        [
            ("status", d.get("description_status")),
            ("description", d.get("description") or "-"),
        ],
    )


async def text(host: Host, bars: ProgressBars) -> None:
    r = await call(
        host,
        bars,
        "local.generate_text",
        {"prompt": "Return the number of items in", "max_new_tokens": 40, "temperature": 0.0},
    )
    g = r.structured_content or {}
    table(
        "generate_text (house GPT-2, greedy, KV cache)",
        [
            ("completion", g["text"]),
            ("finish", g["finish_reason"]),
            ("tokens/s", f"{g['tokens_per_second']:.0f}"),
        ],
    )
    sentence = "Return a new list containing all items from the iterable in ascending order."
    shuffled = " ".join(sorted(sentence.split(), key=lambda w: (len(w), w)))
    ppl = []
    for t in (sentence, shuffled):
        r = await call(host, bars, "local.perplexity", {"text": t})
        ppl.append((r.structured_content or {})["perplexity"])
    table(
        "perplexity (house GPT-2)",
        [("a docstring sentence", f"{ppl[0]:.1f}"), ("same words shuffled", f"{ppl[1]:.1f}")],
    )


async def diffusion(host: Host, bars: ProgressBars, out_dir: Path) -> None:
    r = await call(
        host, bars, "local.sample_images", {"num_images": 8, "steps": 50, "scheduler": "ddim", "seed": 0}
    )
    table("sample_images (house DDPM, DDIM 50 steps)", save_images(r, out_dir, "samples"))
    say_outputs(out_dir)
    image, _ = digit_png(3)
    r = await call(
        host, bars, "local.denoise_image", {"image": image, "strength": 0.5, "steps": 25, "seed": 0}
    )
    d = r.structured_content or {}
    table(
        "denoise_image",
        [
            ("MSE noisy vs clean", f"{d['mse_noisy']:.4f}"),
            ("MSE denoised vs clean", f"{d['mse_denoised']:.4f}"),
            *save_images(r, out_dir, "denoise"),
        ],
    )
    say_outputs(out_dir)


async def latent_diffusion(host: Host, bars: ProgressBars, out_dir: Path) -> None:
    prompt = {"prompt": "a handwritten digit seven", "num_images": 4, "steps": 25, "seed": 0}
    r = await call(host, bars, "local.generate_image", prompt)
    g = r.structured_content or {}
    size = f"{g['width']}x{g['height']} (the checkpoint's own)"
    table(
        f"generate_image (house LDM): {prompt['prompt']!r}",
        [("size", size), ("seeds", g["seeds"]), *save_images(r, out_dir, "text-to-image")],
    )
    image, label = digit_png(3)
    edit = {"image": image, "prompt": "a handwritten digit eight", "strength": 0.8, "steps": 25, "seed": 0}
    r = await call(host, bars, "local.edit_image", edit)
    table(f"edit_image: a held-out {label} towards 'eight'", save_images(r, out_dir, "image-to-image"))
    other, other_label = digit_png(5)
    pair = {"image_a": image, "image_b": other, "frames": 8, "method": "spherical"}
    r = await call(host, bars, "local.interpolate_images", pair)
    table(
        f"interpolate_images: {label} to {other_label} in the VAE's latent space",
        save_images(r, out_dir, "interpolation"),
    )
    say_outputs(out_dir)


def topic_documents() -> list[dict[str, str]]:
    """A few sections of Python's own reference (pydoc_data ships with Python) to retrieve from."""
    from pydoc_data.topics import topics

    return [{"id": name, "text": topics[name]} for name in ("assert", "for", "lambda", "with", "yield")]


async def retrieval(host: Host, bars: ProgressBars) -> None:
    r = await call(
        host,
        bars,
        "local.rag_index",
        {"collection": "python-docs", "documents": topic_documents(), "chunking": "paragraphs"},
    )
    idx = r.structured_content or {}
    table(
        "rag_index (all-MiniLM-L6-v2, FAISS + SQLite FTS5)",
        [
            ("documents", str(len(idx["documents"]))),
            ("generation", str(idx["generation"])),
        ],
    )
    question = "How do I write an anonymous function?"
    for mode in ("dense", "keyword", "hybrid"):
        r = await call(
            host,
            bars,
            "local.rag_search",
            {"collection": "python-docs", "query": question, "k": 3, "mode": mode},
        )
        hits = (r.structured_content or {})["hits"]
        table(
            f"rag_search {mode}: {question!r}",
            [(f"{h['rank']}. {h['document_id']}#{h['chunk']}", f"{h['score']:.3f}") for h in hits],
        )
    r = await call(
        host, bars, "local.rag_answer", {"collection": "python-docs", "question": question, "k": 2}
    )
    a = r.structured_content or {}
    table(
        "rag_answer (sampling answered by the host's house GPT-2)",
        [
            ("status", a.get("answer_status")),
            ("answer", a.get("answer") or "-"),
        ],
    )


RECIPES = [
    f"Stir the {a} into the {b} and bake for {n} minutes until golden."
    for n, (a, b) in enumerate(
        [
            (a, b)
            for a in ("butter", "sugar", "flour", "honey", "cream")
            for b in ("dough", "batter", "sauce")
        ],
        start=10,
    )
]


async def fine_tuning(host: Host, bars: ProgressBars) -> None:
    r = await call(
        host,
        bars,
        "local.lora_finetune",
        {"task": "causal-lm", "dataset": RECIPES, "name": "recipes", "batch_size": 4, "wait_seconds": 120},
    )
    f = r.structured_content or {}
    if f["status"] != "succeeded":
        raise SystemExit(f"lora_finetune: {f['status']}: {f['note']}")
    result, plan = f["job"]["result"], f["plan"]
    table(
        "lora_finetune (house GPT-2, confirmed by the host's elicitation policy)",
        [
            (
                "trainable",
                f"{plan['trainable_params']:,} of {plan['total_params']:,} ({plan['trainable_share']:.2%})",
            ),
            ("steps", f"{result['steps_done']} (the form's answer; the plan said {plan['steps']})"),
            ("held-out perplexity", f"{result['metric_before']:.1f} -> {result['metric_after']:.1f}"),
            ("adapter", result["adapter_uri"]),
        ],
    )
    prompt = {"prompt": "Stir the", "max_new_tokens": 14, "temperature": 0.0}
    base = (await call(host, bars, "local.generate_text", prompt)).structured_content or {}
    tuned = (
        await call(host, bars, "local.generate_text", {**prompt, "adapter": "recipes"})
    ).structured_content or {}
    table("generate_text with and without the adapter", [("base", base["text"]), ("adapter", tuned["text"])])


async def main() -> None:
    out_dir = Path(tempfile.mkdtemp(prefix="genai-mcp-demo-"))
    token = secrets.token_urlsafe(24)
    os.environ["DEMO_TOKEN"] = token
    port = free_port()
    http_server = start_http_server(port, token, str(out_dir / "remote-data"))
    try:
        console.rule("genai-mcp through the host: stdio + HTTP")
        config = host_config(str(out_dir / "local-data"), port)
        async with Host.from_config(config, log_dir=out_dir / "logs") as host:
            for status in host.servers.values():
                console.print(
                    f"[bold]{status.name}[/]: {status.state}, {status.transport}, {status.protocol_version}"
                )
            tools = await host.list_tools()
            console.print(f"{len(tools)} tools: " + ", ".join(t.name for t in tools))
            with ProgressBars() as bars:
                await metrics(host, bars)
                await vision(host, bars)
                await text(host, bars)
                await diffusion(host, bars, out_dir)
                await latent_diffusion(host, bars, out_dir)
                await retrieval(host, bars)
                await fine_tuning(host, bars)
        outputs = out_dir / "local-data" / "outputs"
        console.rule("done")
        console.print(
            f"previews: {out_dir}\nfull-size PNGs (the local server's outputs folder): {outputs}"
            f"\nthe local server's stderr: {out_dir / 'logs' / 'local.log'}",
            soft_wrap=True,
        )
    finally:
        http_server.terminate()
        http_server.wait()


if __name__ == "__main__":
    anyio.run(main)
