"""genai-mcp's MCP Apps views, rendered in a real browser through the extension's own host SDK.

apps/render.mjs is the host: the TypeScript MCP client (@modelcontextprotocol/client) on a running
`genai-mcp serve --transport http` with the house models, and headless Chromium (Debian's
`chromium`, driven by playwright-core) rendering each tool's view through
@modelcontextprotocol/ext-apps' AppBridge in a sandboxed iframe under the CSP the resource declares.
The views' own job_status / cancel_job calls and image reads go through that bridge to the server.
One browser, one server, one run for the module; each test judges one view from the record of
what was on screen, as a person would. Screenshots land in the run's tmp folder; with
GENAI_MCP_VIEWS_SCREENSHOTS=<dir> they are copied there too (how docs/views/ is refreshed).
Without node, npm or the browser the tests fail saying so; they are never skipped.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from genai_mcp.tools.house.digits import digit_images
from tests.helpers.npm import locked_install
from tests.helpers.processes import TOKEN, start_http_server, stop

pytestmark = pytest.mark.slow

APPS = Path(__file__).parent / "apps"
CHROMIUM = Path("/usr/bin/chromium")
HOST_ORIGIN = "http://host.test"
VIEWED = {
    "sample_images": "images",
    "denoise_image": "images",
    "classify_image": "classification",
    "zero_shot_classify": "classification",
    "describe_image": "classification",
    "classification_metrics": "metrics",
    "retrieval_metrics": "metrics",
    "text_metrics": "metrics",
    "rag_search": "retrieval",
    "rag_answer": "retrieval",
    "lora_finetune": "training",
    "job_status": "training",
    "cancel_job": "training",
}
BACKGROUND = {"light": "rgb(255, 255, 255)", "dark": "rgb(27, 29, 33)"}  # server/views/base.css


def _digit_png() -> str:
    """A held-out house digit (a 7) as base64 PNG."""
    images, _labels = digit_images("test")
    buffer = io.BytesIO()
    images[0].save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """render.mjs's record of one run over every view (screenshots beside it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (.ci/run does)")
    locked_install(APPS)
    base = tmp_path_factory.mktemp("apps")
    out = base / "screenshots"
    out.mkdir()
    server = start_http_server(base, GENAI_MCP_TOKENS=TOKEN)
    try:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(base)),
            "MCP_URL": server.mcp_url,
            "MCP_TOKEN": TOKEN,
            "OUT_DIR": str(out),
            "DIGIT_PNG": _digit_png(),
            "CHROMIUM": str(CHROMIUM),
        }
        done = subprocess.run(
            ["node", "render.mjs"], cwd=APPS, env=env, capture_output=True, text=True, timeout=240
        )
    finally:
        stop(server.process)
    lines = done.stdout.strip().splitlines()
    assert lines, f"render.mjs printed nothing (exit {done.returncode}):\n{done.stderr}"
    record: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in record and done.returncode == 0, f"{record.get('error')}\n{done.stderr}"
    if target := os.environ.get("GENAI_MCP_VIEWS_SCREENSHOTS"):
        shutil.copytree(out, target, dirs_exist_ok=True)
    record["screenshots"] = sorted(p.name for p in out.glob("*.png"))
    return record


def test_tools_name_their_views_and_others_none(seen: dict[str, Any]) -> None:
    for tool, uri in seen["tools"].items():
        expected = f"ui://genai-mcp/{VIEWED[tool]}.html" if tool in VIEWED else None
        assert uri == expected, tool


def test_views_fetch_nothing_raise_nothing_and_follow_the_host_theme(seen: dict[str, Any]) -> None:
    # The host page and its script are the only requests: views drew everything from the host.
    assert set(seen["requests"]) == {f"{HOST_ORIGIN}/", f"{HOST_ORIGIN}/host.js"}
    problems = [line for line in seen["console"] if line.startswith(("error", "pageerror", "warning"))]
    assert not problems
    for view_id, view in seen["views"].items():
        if "background" in view:
            assert view["background"] == BACKGROUND[view["theme"]], view_id
    assert {view["theme"] for view in seen["views"].values()} == {"light", "dark"}
    assert seen["views"]["samples"]["switchedBackground"] == BACKGROUND["dark"]  # a live theme change
    assert len(seen["screenshots"]) == len(seen["views"])


def test_images_grid_and_denoising_strip(seen: dict[str, Any]) -> None:
    grid = seen["views"]["samples"]
    result = grid["structured"]
    assert len(grid["images"]) == result["num_images"] == 6
    for shown, stored in zip(grid["images"], result["images"], strict=True):
        assert shown["complete"] and (shown["width"], shown["height"]) == (stored["width"], stored["height"])
    assert grid["captions"] == [f"seed {result['seed']} · #{i}" for i in range(1, 7)]
    assert grid["enlarged"][0]["width"] > 0  # clicking a tile showed it large
    # Non-Apps hosts still get the JSON text, one capped preview and a link per full-size PNG.
    assert grid["content"] == ["text", "image"] + ["resource_link"] * 6

    strip = seen["views"]["denoise"]
    denoised = strip["structured"]
    assert [i["width"] for i in strip["images"]] == [denoised["width"]] * 3
    assert all(i["complete"] for i in strip["images"])
    assert strip["captions"] == [
        "input",
        f"noisy · MSE {denoised['mse_noisy']:.4f}",
        f"denoised · MSE {denoised['mse_denoised']:.4f}",
    ]


def _rankings(view: dict[str, Any]) -> list[list[dict[str, Any]]]:
    r = view["structured"]
    if view["tool"] == "describe_image":
        return [r["classification"]["results"][0]["labels"], r["zero_shot"]["results"][0]["scores"]]
    return [x["labels" if view["tool"] == "classify_image" else "scores"] for x in r["results"]]


def test_classification_bars_in_probability_order(seen: dict[str, Any]) -> None:
    for view_id in ("classify", "zero_shot", "describe"):
        view = seen["views"][view_id]
        expected = [
            s for ranking in _rankings(view) for s in sorted(ranking, key=lambda s: -s["probability"])
        ]
        assert [(b["label"], b["probability"]) for b in view["bars"]] == [
            (s["label"], pytest.approx(s["probability"])) for s in expected
        ], view_id
        for bar in view["bars"]:  # each bar is as long as its probability
            assert bar["width"] / bar["track"] == pytest.approx(bar["probability"], abs=0.01)
        assert [(i["complete"], i["width"]) for i in view["images"]] == [(True, 16)]  # the house digit
        assert view["bars"][0]["label"] in ("7", "seven")
    describe = seen["views"]["describe"]
    assert len(describe["titles"]) == 2 and describe["description"] == [describe["structured"]["description"]]


def test_metrics_heatmap_matches_the_confusion_matrix(seen: dict[str, Any]) -> None:
    view = seen["views"]["confusion"]
    scores = view["structured"]["classification"]
    labels = [str(label) for label in scores["labels"]]
    matrix = scores["confusion_matrix"]
    assert len(view["cells"]) == len(labels) ** 2
    for cell in view["cells"]:
        count = matrix[labels.index(cell["row"])][labels.index(cell["col"])]
        assert cell["count"] == count and cell["text"] == str(count)
    # Within a row, more predictions are a deeper shade.
    alpha = {(c["row"], c["col"]): float(re.findall(r"[\d.]+", c["background"])[-1]) for c in view["cells"]}
    for i, row in enumerate(labels):
        by_count = sorted(range(len(labels)), key=lambda j: matrix[i][j])
        shades = [alpha[(row, labels[j])] for j in by_count]
        assert shades == sorted(shades), row
    assert view["perClass"] == [
        [str(c["label"]), f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])]
        for c in scores["per_class"]
    ]

    refused = seen["views"]["refused"]  # y_true and y_pred of different lengths
    assert refused["errorText"] and refused["status"] == refused["errorText"]
    assert "y_pred" in refused["status"]

    retrieval = seen["views"]["retrieval_metrics"]
    r = retrieval["structured"]
    assert retrieval["rows"][0][:4] == ["query", "relevant", "first hit", "RR"]
    assert [row[0] for row in retrieval["rows"][1:]] == [q["query_id"] for q in r["per_query"]] + ["mean"]
    assert retrieval["rows"][-1][3] == f"{r['mrr']:.3f}"
    assert retrieval["rows"][1][4:7] == [
        f"{r['per_query'][0]['at_k'][0][m]:.3f}" for m in ("precision", "recall", "ndcg")
    ]

    text = seen["views"]["text_metrics"]
    t = text["structured"]
    assert text["rows"][0][:3] == ["", "BLEU", "chrF"]
    assert [row[1] for row in text["rows"][1:]] == [f"{s['score']:.2f}" for s in t["bleu"]["sentences"]] + [
        f"{t['bleu']['corpus']['score']:.2f}"
    ]


def test_retrieval_hits_ranks_and_cited_passages(seen: dict[str, Any]) -> None:
    search = seen["views"]["search"]
    hits = search["structured"]["hits"]
    assert [h["rank"] for h in search["hits"]] == [h["rank"] for h in hits] == [1, 2, 3]
    assert [h["text"] for h in search["hits"]] == [h["text"] for h in hits]
    assert [h["listRanks"] for h in search["hits"]] == [
        [f"dense #{h['dense_rank']}", f"keyword #{h['keyword_rank']}"] for h in hits
    ]
    assert "sky" in hits[0]["text"]

    answer = seen["views"]["answer"]
    a = answer["structured"]
    assert a["answer_status"] == "produced" and answer["answer"] == [a["answer"]]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", a["answer"])}
    assert cited == {1}
    assert [(h["rank"], h["cited"]) for h in answer["hits"]] == [
        (h["rank"], h["rank"] in cited) for h in a["context"]["hits"]
    ]


def test_training_curve_grows_through_the_bridge_and_cancel_stops_the_job(seen: dict[str, Any]) -> None:
    live = seen["views"]["training"]
    points = live["points"]
    assert points == sorted(points) and points[-1] > min(p for p in points if p > 0)
    # The curve grew from the view's own job_status calls, and its button's cancel_job stopped the job.
    calls = seen["bridgeCalls"]
    assert calls.count("job_status") >= 2 and calls.count("cancel_job") == 1
    assert live["shownState"] == "cancelled"
    job = live["jobAfterCancel"]
    assert job["state"] == "cancelled" and job["step"] < job["total_steps"] and job["result"] is None

    done = seen["views"]["trained"]
    final = done["finalJob"]
    assert final["state"] == "succeeded"
    assert done["points"] == [len(final["loss_curve"])] == [final["total_steps"]]
    before, after = final["metric_before"], final["metric_after"]
    assert (
        f"{final['eval_metric']} before {before:.4f}" in done["metric"]
        and f"after {after:.4f}" in done["metric"]
    )
    assert after < before
