"""deploy/run.py as written: two genai-mcp replicas behind a real nginx, checked with the SDK client.

One deployment serves the whole module (a replica start is seconds of this machine's two cores):
PostgreSQL (fine-tuning jobs, RAG collections), two replicas on one data directory that only
queue jobs, one `genai-mcp worker` that trains them, nginx.
A third replica outside nginx has the same token and data directory but no shared request-state
key: it shows what a replica without GENAI_MCP_REQUEST_STATE_KEYS does to a call's second round.
The tests that kill replicas run last.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolResult,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    InputRequiredResult,
    TextContent,
)

from deploy.run import (
    AFFINITY_HEADER,
    Deployment,
    config_text,
    find_nginx,
    start,
    start_replica,
    wait_healthy,
)
from genai_mcp.tools.house.digits import digit_images
from tests.helpers.images import b64, encode
from tests.helpers.results import ok

SAMPLED = "A handwritten seven."
T = TypeVar("T")


@dataclass
class Setup:
    deployment: Deployment
    lone: str  # the replica without the shared key, outside nginx: http://127.0.0.1:PORT
    seven: str  # a held-out digit 7, PNG base64


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    find_nginx()  # a missing nginx fails here, with how to install it; never skipped
    work = tmp_path_factory.mktemp("deployment")
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "GENAI_MCP_LOG_LEVEL": "WARNING"}
    deployment = start(work, replicas=2, env=env, postgres=True, workers=1)  # jobs in PostgreSQL
    try:
        lone = start_replica(work, deployment.token, None, deployment.data_dir, deployment.url, env)
        deployment.extra.append(lone)
        wait_healthy(f"http://{lone.address}", lone.process, lone.log_path)
        images, _labels = digit_images("test")
        yield Setup(deployment, f"http://{lone.address}", b64(encode(images[0])))
    finally:
        deployment.stop()


async def sample(context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
    return CreateMessageResult(
        role="assistant", content=TextContent(type="text", text=SAMPLED), model="host-llm"
    )


def connect(
    setup: Setup,
    url: str,
    check: Callable[[Client], Awaitable[T]],
    *,
    mode: str = "2026-07-28",
    elicit: Callable[[ClientRequestContext, ElicitRequestParams], Awaitable[ElicitResult]] | None = None,
    headers: dict[str, str] | None = None,
) -> T:
    """Run `check` with an SDK client on `url` (an MCP endpoint), sending the deployment's token."""

    async def main() -> T:
        auth = {"Authorization": f"Bearer {setup.deployment.token}", **(headers or {})}
        async with httpx2.AsyncClient(headers=auth, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
            transport = streamable_http_client(url, http_client=http)
            callbacks: dict[str, Any] = {"sampling_callback": sample, "elicitation_callback": elicit}
            async with Client(transport, mode=mode, **callbacks) as client:  # type: ignore[arg-type]
                return await check(client)

    return anyio.run(main)


def served(setup: Setup, name: str, count: int) -> list[str]:
    """The replica (host:port) nginx sent each request for tool or method `name` to, in order.

    nginx logs a request once the replica's stream has ended, which may be just after the client
    read the result: wait (5 s at most) for `count` of them.
    """
    pattern = re.compile(r"upstream=(\S+) method=(\S+) name=(\S+)")
    deadline = time.monotonic() + 5
    while True:
        found = [pattern.search(line) for line in setup.deployment.access_log()]
        hits = [m[1] for m in found if m is not None and name in (m[2], m[3])]
        if len(hits) >= count or time.monotonic() > deadline:
            return hits
        time.sleep(0.05)


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def replicas(setup: Setup) -> set[str]:
    return {r.address for r in setup.deployment.replicas}


def test_calls_spread_over_the_replicas(setup: Setup) -> None:
    async def check(client: Client) -> None:
        for _ in range(6):
            content = ok(
                await client.call_tool("classification_metrics", {"y_true": [1, 0], "y_pred": [1, 1]})
            )
            assert content["classification"]["accuracy"] == 0.5

    connect(setup, setup.deployment.mcp_url, check)
    spread = Counter(served(setup, "classification_metrics", 6))
    assert set(spread) == replicas(setup) and sum(spread.values()) == 6, setup.deployment.access_log()


def test_describe_image_rounds_on_different_replicas_complete(setup: Setup) -> None:
    async def check(client: Client) -> dict[str, Any]:
        return ok(await client.call_tool("describe_image", {"image": setup.seven}))

    content = connect(setup, setup.deployment.mcp_url, check)
    assert content["description"] == SAMPLED and content["description_status"] == "produced"
    rounds = served(setup, "describe_image", 2)
    assert len(rounds) == 2 and set(rounds) == replicas(setup), setup.deployment.access_log()


def test_lora_finetune_confirmed_on_one_replica_trains_on_the_other(setup: Setup) -> None:
    asked: list[ElicitRequestFormParams] = []

    async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        asked.append(params)
        return ElicitResult(action="accept", content={"max_steps": 3, "learning_rate": 0.003})

    texts = [
        f"the heron number {i} waits by the {place} at dusk." for i, place in enumerate(["pond", "weir"] * 6)
    ]
    args = {"task": "causal-lm", "dataset": texts, "name": "across", "batch_size": 2, "max_steps": 10}

    async def check(client: Client) -> dict[str, Any]:
        return ok(await client.call_tool("lora_finetune", {**args, "wait_seconds": 120}))

    out = connect(setup, setup.deployment.mcp_url, check, elicit=accept)
    assert out["status"] == "succeeded", out
    assert out["job"]["result"]["steps_done"] == 3  # the user's answer, given on the other replica
    # Asked once: the retry round on the other replica built the very same question.
    assert len(asked) == 1 and "10 steps" in asked[0].message
    rounds = served(setup, "lora_finetune", 2)
    assert len(rounds) == 2 and set(rounds) == replicas(setup), setup.deployment.access_log()
    assert (setup.deployment.data_dir / "adapters" / "across").is_dir()  # on the shared data directory
    assert setup.deployment.database_url is not None
    with psycopg.connect(setup.deployment.database_url) as db:
        registered = db.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    assert registered == (1,)  # the separate worker trained it: the replicas run none of their own


def test_a_job_started_through_one_replica_is_followed_and_cancelled_through_the_other(setup: Setup) -> None:
    texts = [
        f"the wren number {i} sings on the {place} at noon." for i, place in enumerate(["roof", "gate"] * 6)
    ]
    args = {"task": "causal-lm", "dataset": texts, "name": "far", "max_steps": 2000, "confirm": True}

    async def start_job(client: Client) -> dict[str, Any]:
        started: dict[str, Any] = ok(await client.call_tool("lora_finetune", {**args, "wait_seconds": 0}))[
            "job"
        ]
        return started

    job = connect(setup, setup.deployment.mcp_url, start_job)
    (runner,) = served(setup, "lora_finetune", 1)[-1:]
    (other,) = [r for r in setup.deployment.replicas if r.address != runner]

    async def follow_and_cancel(client: Client) -> dict[str, Any]:
        # The job trains on the worker; the record it writes to PostgreSQL is what the other
        # replica answers from: poll it until the job has gone past its first step.
        deadline = time.monotonic() + 60
        while (seen := ok(await client.call_tool("job_status", {"job_id": job["job_id"]})))["step"] < 2:
            assert seen["state"] in ("queued", "running") and time.monotonic() < deadline, seen
            await anyio.sleep(0.2)
        listed = ok(await client.call_tool("list_jobs", {}))["jobs"]
        assert job["job_id"] in [j["job_id"] for j in listed]
        ok(await client.call_tool("cancel_job", {"job_id": job["job_id"]}))
        while (seen := ok(await client.call_tool("job_status", {"job_id": job["job_id"]})))[
            "state"
        ] == "running":
            assert time.monotonic() < deadline, seen
            await anyio.sleep(0.2)
        return seen

    seen = connect(setup, f"http://{other.address}/mcp", follow_and_cancel)
    assert seen["state"] == "cancelled" and 2 <= seen["step"] < 2000, seen
    assert setup.deployment.database_url is not None
    assert not (setup.deployment.data_dir / "jobs.sqlite3").exists()  # the records went to PostgreSQL
    assert not (setup.deployment.data_dir / "adapters" / "far").exists()


def test_a_collection_indexed_through_one_replica_is_searched_through_the_other(setup: Setup) -> None:
    first, second = (f"http://{r.address}/mcp" for r in setup.deployment.replicas)
    documents = [
        {"id": "herons", "text": "Herons stand still in shallow water and spear fish with their beaks."},
        {"id": "kettles", "text": "A kettle boils water for tea on the stove in the kitchen."},
    ]

    async def index(client: Client) -> None:
        done = ok(await client.call_tool("rag_index", {"collection": "shared", "documents": documents}))
        assert [d["id"] for d in done["documents"]] == ["herons", "kettles"]

    async def search(client: Client) -> list[str]:
        found = ok(
            await client.call_tool("rag_search", {"collection": "shared", "query": "herons fish", "k": 1})
        )
        return [hit["document_id"] for hit in found["hits"]]

    connect(setup, first, index)
    assert connect(setup, second, search) == ["herons"]
    assert not (setup.deployment.data_dir / "rag").exists()  # the collection is in PostgreSQL, not on disk


def _rounds(setup: Setup, second: str) -> CallToolResult | MCPError:
    """describe_image's first round on replica 1, its second (the sampled answer) on `second`."""
    first = f"http://{setup.deployment.replicas[0].address}/mcp"

    async def ask(client: Client) -> InputRequiredResult:
        await client.list_tools()
        asked = await client.session.call_tool(
            "describe_image", {"image": setup.seven}, allow_input_required=True
        )
        assert isinstance(asked, InputRequiredResult), asked
        return asked

    asked = connect(setup, first, ask)
    assert asked.input_requests and asked.request_state
    answers: dict[str, Any] = {
        key: CreateMessageResult(role="assistant", content=TextContent(type="text", text=SAMPLED), model="m")
        for key in asked.input_requests
    }

    async def answer(client: Client) -> CallToolResult | MCPError:
        await client.list_tools()
        try:
            return await client.call_tool(
                "describe_image",
                {"image": setup.seven},
                input_responses=answers,
                request_state=asked.request_state,
            )
        except MCPError as refused:
            return refused

    return connect(setup, second, answer)


def test_a_second_round_on_another_replica_needs_the_shared_key(setup: Setup) -> None:
    shared = _rounds(setup, f"http://{setup.deployment.replicas[1].address}/mcp")
    assert isinstance(shared, CallToolResult) and ok(shared)["description"] == SAMPLED
    lone = _rounds(setup, setup.lone + "/mcp")
    assert isinstance(lone, MCPError), f"a replica without the key accepted the state: {lone}"
    assert "Invalid or expired requestState" in lone.message


def test_a_legacy_session_stays_on_one_replica_with_the_affinity_header(setup: Setup) -> None:
    async def session(client: Client) -> str:
        for _ in range(3):
            content = ok(await client.call_tool("classification_metrics", {"y_true": [1], "y_pred": [1]}))
            assert content["classification"]["accuracy"] == 1.0
        return client.protocol_version

    key = str(uuid.uuid4())
    before = len(setup.deployment.access_log())
    version = connect(setup, setup.deployment.mcp_url, session, mode="legacy", headers={AFFINITY_HEADER: key})
    assert version == "2025-11-25"
    lines = [line for line in setup.deployment.access_log()[before:] if f"affinity={key}" in line]
    assert len(lines) >= 5 and len({re.search(r"upstream=(\S+)", line)[1] for line in lines}) == 1  # type: ignore[index]

    # Without it, round robin sends the session's requests to a replica that never saw it.
    with pytest.raises(BaseExceptionGroup) as lost:  # the SDK's task groups wrap the MCPError
        connect(setup, setup.deployment.mcp_url, session, mode="legacy")
    refused = [e for e in leaves(lost.value) if isinstance(e, MCPError)]
    assert [e.message for e in refused] == ["Session not found"], repr(lost.value)


def test_killing_a_replica_leaves_the_service_answering(setup: Setup) -> None:
    victim = setup.deployment.replicas[1]
    victim.process.kill()
    victim.process.wait()
    before = len(setup.deployment.access_log())

    async def check(client: Client) -> None:
        for _ in range(4):
            content = ok(await client.call_tool("classification_metrics", {"y_true": [1], "y_pred": [0]}))
            assert content["classification"]["accuracy"] == 0.0
        assert ok(await client.call_tool("describe_image", {"image": setup.seven}))["description"] == SAMPLED

    connect(setup, setup.deployment.mcp_url, check)
    answered = setup.deployment.access_log()[before:]
    assert answered and all(" 200 " in line or " 202 " in line for line in answered), answered
    assert any(f"upstream={setup.deployment.replicas[0].address}" in line for line in answered)


def _with_a_call_open(setup: Setup) -> list[Any]:
    """The replicas nginx has a connection open to now: it keeps none idle (no upstream keepalive),
    so each is a request in flight (/proc/net/tcp: ESTABLISHED sockets on a replica's port)."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "01":
            ports.add(int(local.split(":")[1], 16))
    return [r for r in setup.deployment.replicas if r.port in ports]


async def _one_metric(client: Client) -> None:
    ok(await client.call_tool("classification_metrics", {"y_true": [1], "y_pred": [1]}))


def _revive(setup: Setup) -> None:
    """Start a killed replica again on its port (nginx takes it back once its fail_timeout is over)."""
    d = setup.deployment
    for i, r in enumerate(d.replicas):
        if r.process.poll() is not None:
            again = start_replica(d.prefix.parent, d.token, d.key, d.data_dir, d.url, d.replica_env, r.port)
            wait_healthy(f"http://{again.address}", again.process, again.log_path)
            d.replicas[i] = again
            # nginx skips a server for fail_timeout (10 s) after a failed connection: until it
            # has sent this one a request again, a second death would leave it no replica.
            deadline = time.monotonic() + 30
            while not any(f"upstream={again.address} " in line for line in d.access_log()[-4:]):
                assert time.monotonic() < deadline, d.access_log()[-4:]
                connect(setup, d.mcp_url, _one_metric)


def test_killing_the_replica_in_the_middle_of_a_call_leaves_its_job_training_on_the_worker(
    setup: Setup,
) -> None:
    _revive(setup)  # the test before killed one
    texts = [f"the crane number {i} wades in the {p} at dawn." for i, p in enumerate(["reeds", "ford"] * 6)]
    args = {"task": "causal-lm", "dataset": texts, "name": "outlived", "max_steps": 300, "batch_size": 2}
    outcome: list[Any] = []

    async def long_call(client: Client) -> Any:
        return await client.call_tool("lora_finetune", {**args, "confirm": True, "wait_seconds": 150})

    def in_flight() -> None:
        try:
            outcome.append(connect(setup, setup.deployment.mcp_url, long_call))
        except BaseException as exc:  # what the client gets when its replica dies under the call
            outcome.append(exc)

    caller = threading.Thread(target=in_flight)
    caller.start()
    assert setup.deployment.database_url is not None
    deadline = time.monotonic() + 120
    with psycopg.connect(setup.deployment.database_url, autocommit=True) as db:
        while True:  # the job is training on the worker, and the call that queued it still waits
            row = db.execute(
                "SELECT job_id, info->>'step' FROM genai_mcp_jobs WHERE info->>'adapter' = 'outlived'"
            ).fetchone()
            if row is not None and int(row[1]) >= 1:
                break
            assert time.monotonic() < deadline and not outcome, outcome
            time.sleep(0.1)
    job_id = row[0]
    (victim,) = _with_a_call_open(setup)
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait()
    caller.join(60)
    assert not caller.is_alive(), "the call on the killed replica neither failed nor returned"
    (failed,) = outcome
    assert isinstance(failed, BaseException), f"the call returned despite its replica's death: {failed}"

    async def follow(client: Client) -> dict[str, Any]:
        while (seen := ok(await client.call_tool("job_status", {"job_id": job_id})))["state"] == "running":
            assert time.monotonic() < deadline + 120, seen
            await anyio.sleep(0.3)
        return seen

    before = len(setup.deployment.access_log())
    done = connect(setup, setup.deployment.mcp_url, follow)  # through nginx, the other replica
    assert done["state"] == "succeeded" and done["result"]["steps_done"] == 300, done
    assert (setup.deployment.data_dir / "adapters" / "outlived").is_dir()
    answered = setup.deployment.access_log()[before:]
    assert answered and all(" 200 " in line or " 202 " in line for line in answered), answered


def test_the_readme_nginx_excerpt_is_the_template() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    (excerpt,) = re.findall(r"^```nginx\n(.*?)^```", readme, flags=re.S | re.M)
    rendered = config_text(Path("/p"), 8080, ["127.0.0.1:PORT1", "127.0.0.1:PORT2"])
    lines = {line.strip() for line in rendered.splitlines()}
    missing = [line for line in excerpt.splitlines() if line.strip() not in lines]
    assert not missing, f"README lines not in deploy/nginx.conf.template: {missing}"
