"""Fine-tuning jobs on a real PostgreSQL with real `genai-mcp worker` processes (tools/lora/queue_pg.py,
worker_pg.py): servers only queue (GENAI_MCP_JOB_WORKER=false), two competing workers train.

One PostgreSQL and two workers serve the module (a worker start is seconds of torch imports);
the last test SIGKILLs one of them, so it runs last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools.lora import LoraRequest
from genai_mcp.tools.lora.jobs import JobLimits
from genai_mcp.tools.lora.orders import TrainingOrder
from genai_mcp.tools.lora.queue_pg import APPLICATION_NAME, STRANDED, PgJobQueue, ensure_schema
from genai_mcp.tools.lora.records_pg import lock_key
from genai_mcp.tools.lora.store import AdapterStore
from tests.helpers.postgres import running_postgres
from tests.helpers.processes import free_port, server_env, stop
from tests.helpers.results import ok, run_client
from tests.helpers.workers import WorkerProcess, jobs_started, start_worker, wait_for_workers, worker_command

TEXTS = [
    f"the otter number {i} swims under the {place} at dawn." for i, place in enumerate(["bridge", "mill"] * 6)
]
LONG = {"task": "causal-lm", "dataset": TEXTS, "max_steps": 2000, "confirm": True, "wait_seconds": 0}


@dataclass
class Cluster:
    url: str
    data: Path  # the data dir workers and servers share (adapters)
    workers: list[WorkerProcess]

    def server(self) -> Any:
        settings = ServerSettings(
            data_dir=self.data,
            database_url=self.url,
            job_worker=False,
            log_level="WARNING",
            lora_max_queued=4,
        )
        return create_server(settings)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("workers")
    with running_postgres() as url:
        env = server_env(work / "data", GENAI_MCP_DATABASE_URL=url, GENAI_MCP_LOG_LEVEL="INFO")
        # Started together: both apply the schema to an empty database at once.
        workers = [start_worker(work / f"worker-{i}.log", env) for i in range(2)]
        try:
            wait_for_workers(url, 2, workers)
            yield Cluster(url, work / "data", workers)
        finally:
            for w in workers:
                stop(w.process)


def test_a_worker_without_a_database_url_exits_2_naming_the_variable(tmp_path: Path) -> None:
    done = subprocess.run(
        worker_command(), env=server_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "GENAI_MCP_DATABASE_URL" in done.stderr, done.stderr


def test_a_worker_whose_database_cannot_be_reached_exits_2_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/postgres"
    env = server_env(tmp_path, GENAI_MCP_DATABASE_URL=url)
    done = subprocess.run(worker_command(), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert (
        "cannot use the job database at GENAI_MCP_DATABASE_URL" in done.stderr and "s3cret" not in done.stderr
    )


def _order(name: str) -> TrainingOrder:
    return _order_of(name, steps=1)


def _order_of(name: str, *, steps: int) -> TrainingOrder:
    request = LoraRequest(task="causal-lm", dataset=TEXTS, name=name, max_steps=steps, batch_size=2)
    return TrainingOrder(request=request, adapter=name, task="causal-lm", total_steps=steps)


def test_two_competing_workers_run_each_job_exactly_once(cluster: Cluster) -> None:
    queue = PgJobQueue(cluster.url, limits=JobLimits(max_queued=10))
    ids = [queue.submit(_order(f"once-{i}")).job_id for i in range(4)]
    finals = [queue.wait(job_id, 180) for job_id in ids]
    assert [f.state for f in finals] == ["succeeded"] * 4, finals
    started = [jobs_started(w) for w in cluster.workers]
    assert sorted(j for each in started for j in each if j in ids) == sorted(ids), started
    assert all(set(each) & set(ids) for each in started), started  # both took part
    with psycopg.connect(cluster.url) as db:
        left = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE args->'order'->>'job_id' = ANY(%s)", (ids,)
        ).fetchone()
    assert left == (0,)  # each deleted by the worker that ran it, once done
    assert all((cluster.data / "adapters" / f"once-{i}").is_dir() for i in range(4))


def test_a_replica_reads_jobs_on_pooled_connections(cluster: Cluster) -> None:
    """A waiting lora_finetune reads its job five times a second: not a new backend each time."""
    queue = PgJobQueue(cluster.url)
    job_id = queue.submit(_order("pooled")).job_id

    def backends() -> set[int]:
        with psycopg.connect(cluster.url) as db:
            rows = db.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
            ).fetchall()
        return {pid for (pid,) in rows}

    queue.status(job_id)
    first = backends()
    for _ in range(30):
        queue.status(job_id)
        queue.list()
    assert backends() == first and 1 <= len(first) <= 4
    assert queue.wait(job_id, 180).state == "succeeded"
    queue.close()
    deadline = time.monotonic() + 10
    while backends():  # closed with the replica's lifespan (a backend leaves the view as it exits)
        assert time.monotonic() < deadline, backends()
        time.sleep(0.1)
    assert queue.status(job_id).state == "succeeded"  # and opened again when used again
    queue.close()


def test_a_job_queued_through_one_server_trains_on_a_worker_and_is_followed_through_another(
    cluster: Cluster,
) -> None:
    accepting, other = cluster.server(), cluster.server()
    args = {"task": "causal-lm", "dataset": TEXTS, "name": "via-worker", "max_steps": 3, "batch_size": 2}
    jobs: list[dict[str, Any]] = []

    async def train(client: Client) -> None:
        out = ok(await client.call_tool("lora_finetune", {**args, "confirm": True, "wait_seconds": 180}))
        assert out["status"] == "succeeded", out
        jobs.append(out["job"])

    async def look(client: Client) -> None:
        status = ok(await client.call_tool("job_status", {"job_id": jobs[0]["job_id"]}))
        assert status["state"] == "succeeded" and status["step"] == 3 and status["loss"] is not None
        assert [p["step"] for p in status["loss_curve"]] == [1, 2, 3]
        assert status["result"]["adapter"] == "via-worker" and status["metric_after"] is not None
        listed = ok(await client.call_tool("list_jobs", {}))["jobs"]
        assert jobs[0]["job_id"] in [j["job_id"] for j in listed]

    run_client(accepting, train)
    run_client(other, look)
    assert any(jobs[0]["job_id"] in jobs_started(w) for w in cluster.workers)
    assert (cluster.data / "adapters" / "via-worker").is_dir()


def _until_step(client: Client, job_id: str, step: int) -> Any:
    async def poll() -> dict[str, Any]:
        import anyio

        deadline = time.monotonic() + 120
        while (seen := ok(await client.call_tool("job_status", {"job_id": job_id})))["step"] < step:
            assert seen["state"] in ("queued", "running") and time.monotonic() < deadline, seen
            await anyio.sleep(0.2)
        return seen

    return poll()


def test_cancel_through_another_server_stops_a_running_job_and_a_queued_one_never_runs(
    cluster: Cluster,
) -> None:
    accepting, other = cluster.server(), cluster.server()
    ids: list[str] = []

    async def start(client: Client) -> None:
        for name in ("long-1", "long-2"):  # one on each worker
            ids.append(ok(await client.call_tool("lora_finetune", {**LONG, "name": name}))["job"]["job_id"])
        for job_id in ids:
            await _until_step(client, job_id, 1)
        queued = ok(await client.call_tool("lora_finetune", {**LONG, "name": "long-3"}))["job"]
        assert queued["state"] == "queued", queued
        ids.append(queued["job_id"])

    async def cancel(client: Client) -> None:
        never = ok(await client.call_tool("cancel_job", {"job_id": ids[2]}))
        assert never["state"] == "cancelled" and never["started"] is None, never
        await _until_step(client, ids[0], 2)
        for job_id in ids[:2]:
            stopped = ok(await client.call_tool("cancel_job", {"job_id": job_id}))
            assert stopped["state"] == "cancelled" and 1 <= stopped["step"] < 2000, stopped

    run_client(accepting, start)
    run_client(other, cancel)
    assert not any(ids[2] in jobs_started(w) for w in cluster.workers)
    assert not list((cluster.data / "adapters").glob("*long-*"))


def test_a_job_whose_worker_died_before_claiming_it_is_failed_not_left_queued(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url, autocommit=True) as db:
        db.execute("CREATE DATABASE stranded")  # no worker listens there
    url = cluster.url.rsplit("/", 1)[0] + "/stranded"
    ensure_schema(url)
    queue = PgJobQueue(url, limits=JobLimits(max_queued=0))
    job_id = queue.submit(_order("stranded")).job_id
    assert queue.status(job_id).state == "queued"
    # What a worker that fetched the job and died before claiming its record leaves, once the next
    # worker's start has pruned it: procrastinate's job doing, on no worker.
    with psycopg.connect(url) as db:
        db.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL")
    status = queue.status(job_id)
    assert status.state == "failed" and status.error == STRANDED, status
    queue.check_room()  # no longer counted as waiting


def test_a_worker_cut_off_from_the_database_stops_the_job_it_was_declared_dead_for(cluster: Cluster) -> None:
    """Its lock connection ends (a network cut, a database restart) while the process goes on."""
    queue = PgJobQueue(cluster.url)
    job_id = queue.submit(_order_of("cut-off", steps=2000)).job_id
    while (seen := queue.status(job_id)).step < 1:
        assert seen.state in ("queued", "running"), seen
        time.sleep(0.2)
    (worker,) = [w for w in cluster.workers if job_id in jobs_started(w)]
    with psycopg.connect(cluster.url, autocommit=True) as db:
        (owner,) = db.execute("SELECT owner FROM genai_mcp_jobs WHERE job_id = %s", (job_id,)).fetchone() or (
            "",
        )
        cut = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = %s",
            (lock_key(owner),),
        ).fetchall()
    assert cut == [(True,)]
    declared = queue.status(job_id)  # the lock is free: this reader takes the worker for dead
    assert declared.state == "failed" and "the worker running this job stopped" in (declared.error or "")
    deadline = time.monotonic() + 60
    while "cut off from the database" not in worker.log():  # its next save finds the verdict
        assert time.monotonic() < deadline, worker.log()[-3000:]
        time.sleep(0.2)
    assert queue.status(job_id) == declared  # the verdict stands: never running or cancelled again
    assert not list((cluster.data / "adapters").glob("*cut-off*"))
    # The worker holds its lock again from its next job on: those jobs are not taken for lost.
    ids = [queue.submit(_order(f"after-cut-{i}")).job_id for i in range(2)]
    assert [queue.wait(j, 180).state for j in ids] == ["succeeded"] * 2


def test_a_worker_killed_mid_job_leaves_the_job_failed_and_no_adapter(cluster: Cluster) -> None:
    accepting, other = cluster.server(), cluster.server()
    found: list[Any] = []

    async def start(client: Client) -> None:
        job = ok(await client.call_tool("lora_finetune", {**LONG, "name": "killed"}))["job"]
        await _until_step(client, job["job_id"], 1)
        found.append(job["job_id"])

    run_client(accepting, start)
    (job_id,) = found
    (victim,) = [w for w in cluster.workers if job_id in jobs_started(w)]
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait()

    async def look(client: Client) -> None:
        status = ok(await client.call_tool("job_status", {"job_id": job_id}))
        assert status["state"] == "failed", status
        assert "the worker running this job stopped" in status["error"], status
        (listed,) = [j for j in ok(await client.call_tool("list_jobs", {}))["jobs"] if j["job_id"] == job_id]
        assert listed["state"] == "failed"

    run_client(other, look)  # no restart: the next reader sees the dead worker's lock free
    adapters = cluster.data / "adapters"
    AdapterStore(adapters, uri_prefix="adapters://").clean_stale()
    assert not list(adapters.glob("*killed*")) and not list(adapters.glob(".*"))
    survivor = next(w for w in cluster.workers if w is not victim)
    assert job_id not in jobs_started(survivor)  # never retried behind the user's back


def test_a_worker_stopped_by_sigterm_mid_job_records_it_cancelled_and_exits_0(cluster: Cluster) -> None:
    (survivor,) = [w for w in cluster.workers if w.process.poll() is None]  # after the SIGKILL above
    accepting = cluster.server()
    found: list[dict[str, Any]] = []

    async def start_then_stop(client: Client) -> None:
        job = ok(await client.call_tool("lora_finetune", {**LONG, "name": "stopped"}))["job"]
        await _until_step(client, job["job_id"], 1)
        survivor.process.send_signal(signal.SIGTERM)
        found.append(ok(await client.call_tool("job_status", {"job_id": job["job_id"]})))

    run_client(accepting, start_then_stop)
    assert survivor.process.wait(timeout=60) == 0, survivor.log()[-3000:]
    queue = PgJobQueue(cluster.url)
    final = queue.status(found[0]["job_id"])
    assert final.state == "cancelled" and final.error and "the worker shut down" in final.error, final
    assert not list((cluster.data / "adapters").glob("*stopped*"))
