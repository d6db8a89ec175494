"""GENAI_MCP_DATABASE_URL: job records in a real PostgreSQL, shared by servers with separate data dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from genai_mcp.server.app import create_server
from genai_mcp.server.settings import ServerSettings, SettingsError
from tests.helpers.postgres import running_postgres
from tests.helpers.processes import free_port
from tests.helpers.results import ok, run_client

TEXTS = [
    f"the otter number {i} swims under the {place} at dawn." for i, place in enumerate(["bridge", "mill"] * 6)
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with running_postgres() as url:
        yield url


def test_a_url_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"GENAI_MCP_DATABASE_URL: .*must be a PostgreSQL URL"):
        ServerSettings.load(env={"GENAI_MCP_DATABASE_URL": "sqlite:///jobs.db"})


def test_a_database_that_cannot_be_reached_stops_the_start(tmp_path: Path) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/postgres"
    settings = ServerSettings(data_dir=tmp_path, database_url=url)
    with pytest.raises(
        SettingsError, match="cannot use the job database at GENAI_MCP_DATABASE_URL"
    ) as refused:
        create_server(settings)
    assert "s3cret" not in str(refused.value)


def test_servers_on_one_database_see_each_others_jobs(postgres: str, tmp_path: Path) -> None:
    def server(name: str) -> Any:
        return create_server(
            ServerSettings(data_dir=tmp_path / name, database_url=postgres, log_level="WARNING")
        )

    trainer, other = server("a"), server("b")  # no shared data directory: only the database
    args = {"task": "causal-lm", "dataset": TEXTS, "name": "otter", "max_steps": 2, "confirm": True}
    jobs: list[dict[str, Any]] = []

    async def train(client: Client) -> None:
        out = ok(await client.call_tool("lora_finetune", {**args, "wait_seconds": 120}))
        assert out["status"] == "succeeded", out
        jobs.append(out["job"])

    async def look(client: Client) -> None:
        (listed,) = ok(await client.call_tool("list_jobs", {}))["jobs"]
        assert listed["job_id"] == jobs[0]["job_id"] and listed["state"] == "succeeded"
        status = ok(await client.call_tool("job_status", {"job_id": jobs[0]["job_id"]}))
        assert status["result"]["adapter"] == "otter" and status["step"] == 2

    run_client(trainer, train)
    run_client(other, look)
