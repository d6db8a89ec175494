"""The host against real processes: two genai-mcp servers (stdio, and HTTP with a token), broken entries,
routing by name, disconnecting in any order, servers that die, reconnecting, and no orphans after exit."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import pytest
from mcp import MCPError

from genai_mcp.client import (
    CallTimeoutError,
    Host,
    ServerState,
    ServerStatus,
    ServerUnavailableError,
    UnknownNameError,
)
from tests.helpers.host_entries import callbacks_entry, genai_stdio_entry
from tests.helpers.processes import TOKEN, HttpServer, child_pids, find_pid

CLASSIFY = {"y_true": [1, 0, 1, 1], "y_pred": [1, 0, 0, 1], "average": "binary"}
RETRIEVE = {"queries": [{"retrieved": ["a", "b", "c"], "relevant": ["a", "c"]}], "k": 2}


def test_two_genai_servers_a_broken_entry_routing_and_disconnect_in_any_order(
    tmp_path: Path, genai_http: HttpServer
) -> None:
    before = child_pids()
    connected: list[str] = []
    config = {
        "mcpServers": {
            "local": genai_stdio_entry(tmp_path / "local-data"),
            "remote": {"url": genai_http.mcp_url, "headers": {"Authorization": "Bearer ${GENAI_TEST_TOKEN}"}},
            "broken": {"command": str(tmp_path / "no-such-server")},
            "locked": {
                "url": genai_http.mcp_url,
                "headers": {"Authorization": "Bearer not-the-right-token-00"},
            },
        }
    }

    def record(status: ServerStatus) -> None:
        if status.state is ServerState.CONNECTED:
            connected.append(status.name)

    async def main() -> None:
        async with Host.from_config(config, env={"GENAI_TEST_TOKEN": TOKEN}, on_status=record) as host:
            servers = host.servers
            assert {n: s.state for n, s in servers.items()} == {
                "local": ServerState.CONNECTED,
                "remote": ServerState.CONNECTED,
                "broken": ServerState.FAILED,
                "locked": ServerState.FAILED,
            }
            assert (
                servers["broken"].error
                == f"cannot start '{tmp_path / 'no-such-server'}': No such file or directory"
            )
            assert (
                servers["locked"].error
                == f"HTTP 401 from {genai_http.mcp_url} (check the token in 'headers')"
            )
            assert servers["local"].transport == "stdio" and servers["remote"].transport == "http"

            names = {t.name for t in await host.list_tools()}
            for tool in ("text_metrics", "classification_metrics", "retrieval_metrics"):
                assert {f"local.{tool}", f"remote.{tool}"} <= names  # same names, both reachable

            local = await host.call_tool("local.classification_metrics", CLASSIFY)
            remote = await host.call_tool("remote.retrieval_metrics", RETRIEVE, timeout=30)
            assert local.structured_content is not None and remote.structured_content is not None
            assert local.structured_content["classification"]["accuracy"] == 0.75
            assert remote.structured_content["mean_at_k"][0] == {
                "k": 2,
                "precision": 0.5,
                "recall": 0.5,
                "ndcg": 0.6131471927654584,
            }

            with pytest.raises(UnknownNameError, match=r"no server named 'nope' \(configured: local, remote"):
                await host.call_tool("nope.text_metrics", {})
            with pytest.raises(UnknownNameError, match=r"must be 'server\.tool'"):
                await host.call_tool("text_metrics", {})
            with pytest.raises(ServerUnavailableError, match="'broken' is unavailable: cannot start"):
                await host.call_tool("broken.anything", {})
            with pytest.raises(UnknownNameError, match="offered by local, remote; name the server"):
                await host.read_resource("models://list")
            listing = await host.read_resource("models://list", server="remote")
            assert listing.contents

            first, second = (n for n in connected if n in ("local", "remote"))
            await host.disconnect(first)
            assert host.servers[first].state is ServerState.DISCONNECTED
            with pytest.raises(ServerUnavailableError, match=f"'{first}' is disconnected"):
                await host.call_tool(f"{first}.classification_metrics", CLASSIFY)
            still = await host.call_tool(f"{second}.classification_metrics", CLASSIFY)
            assert not still.is_error
            assert {t.server for t in await host.list_tools()} == {second}

    anyio.run(main)
    assert child_pids() == before, "every stdio server process is gone after the host exits"


def test_dead_servers_are_reported_the_others_keep_working_and_the_next_call_reconnects(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = child_pids()
    marker = tmp_path / "genai-kill-me"
    config = {"mcpServers": {"genai": genai_stdio_entry(marker), "cb": callbacks_entry()}}
    changes: list[ServerStatus] = []

    async def main() -> None:
        died = anyio.Event()

        def record(status: ServerStatus) -> None:
            changes.append(status)
            if status.state is ServerState.DEAD:
                died.set()

        async with Host.from_config(config, on_status=record) as host:
            # A server killed between calls: noticed at once, not at the next call.
            pid = find_pid(str(marker))
            os.kill(pid, signal.SIGKILL)
            with anyio.fail_after(15):
                await died.wait()
            dead = host.servers["genai"]
            assert dead.state is ServerState.DEAD and "closed the connection" in (dead.error or "")
            assert not (await host.call_tool("cb.echo", {"text": "still here"})).is_error
            assert {t.name.split(".")[0] for t in await host.list_tools()} == {"cb"}

            again = await host.read_resource("models://list", server="genai")  # reconnects first
            assert again.contents
            revived = host.servers["genai"]
            assert revived.state is ServerState.CONNECTED and find_pid(str(marker)) != pid

            # A server that dies during a call: that call fails clearly, the next one reconnects.
            with pytest.raises(
                ServerUnavailableError, match=r"'cb' died during the call to cb\.crash: the server"
            ):
                await host.call_tool("cb.crash", {})
            assert host.servers["cb"].state is ServerState.DEAD
            assert (await host.read_resource("models://list", server="genai")).contents
            echo = await host.call_tool("cb.echo", {"text": "back"})
            assert echo.structured_content == {"result": "callbacks-test: back"}

            # A call past its timeout is cancelled; the server stays usable.
            with pytest.raises(CallTimeoutError, match=r"cb\.slow did not finish within 0\.3 s"):
                await host.call_tool("cb.slow", {"steps": 100, "delay": 0.05}, timeout=0.3)
            with pytest.raises(MCPError, match="Unknown resource"):
                await host.read_resource("notes://nothing-here", server="cb")
            assert not (await host.call_tool("cb.echo", {"text": "after timeout"})).is_error

    with caplog.at_level("WARNING", logger="genai_mcp.client"):
        anyio.run(main)
    assert [(s.name, s.state) for s in changes if s.state is ServerState.DEAD] == [
        ("genai", ServerState.DEAD),
        ("cb", ServerState.DEAD),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.name == "genai_mcp.client"]
    assert any(m.startswith("[genai] died: the server closed the connection") for m in warnings), warnings
    assert child_pids() == before


def test_an_http_server_that_dies_is_reported_and_the_other_keeps_working(
    http_server: HttpServer, genai_http: HttpServer
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    config = {
        "mcpServers": {
            "doomed": {"url": http_server.mcp_url, "headers": bearer},
            "other": {"url": genai_http.mcp_url, "headers": bearer, "protocol": "legacy"},
        }
    }

    async def main() -> None:
        async with Host.from_config(config) as host:
            assert (await host.read_resource("models://list", server="doomed")).contents
            http_server.process.kill()
            http_server.process.wait()
            with pytest.raises(
                ServerUnavailableError, match=r"'doomed' died during the call .*: cannot reach http"
            ):
                await host.call_tool("doomed.classification_metrics", CLASSIFY)
            dead = host.servers["doomed"]
            with pytest.raises(ServerUnavailableError, match=r"'doomed' is unavailable: cannot reach http"):
                await host.read_resource("models://list", server="doomed")  # one reconnect attempt
            failed = host.servers["doomed"]
            assert (dead.state, failed.state) == (ServerState.DEAD, ServerState.FAILED)
            assert not (await host.call_tool("other.classification_metrics", CLASSIFY)).is_error

    anyio.run(main)
