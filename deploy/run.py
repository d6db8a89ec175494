"""N genai-mcp replicas behind nginx on loopback, as ordinary processes: `python deploy/run.py`.

Every replica is `genai-mcp serve --transport http` on a free loopback port with the same bearer
token, the same request-state key (so a sampling or elicitation round may land on any of them) and
the same data directory; nginx (Debian's package) listens on one port in front of them with
deploy/nginx.conf.template. With --postgres, a PostgreSQL holds the fine-tuning jobs and
--workers N `genai-mcp worker` processes (same environment, database and data directory) train
them, the replicas then only queuing (GENAI_MCP_JOB_WORKER=false; --workers 0 keeps a worker
inside each replica). What the replicas share: README, Scaling out.

    python deploy/run.py --replicas 2 --postgres --workers 1 --port 8080 --workdir /tmp/genai-deploy

prints the URL, the token and the key, and runs until Ctrl-C. tests/e2e/test_deployment.py starts
exactly this through `start()`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script (python deploy/run.py): deploy/ is a package of the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deploy.postgres import running_postgres

__all__ = ["AFFINITY_HEADER", "Deployment", "Replica", "Worker", "config_text", "find_nginx", "start"]

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
AFFINITY_HEADER = "X-GenAI-Affinity"  # what a 2025-11-25 (session) client sends to stay on one replica
START_TIMEOUT_S = 60.0


@dataclass
class Replica:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Worker:
    """A `genai-mcp worker` process: it trains the jobs the replicas queue in PostgreSQL."""

    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Deployment:
    url: str  # nginx's base URL; the MCP endpoint is url + "/mcp"
    token: str
    key: str
    data_dir: Path
    prefix: Path  # nginx's prefix: its config, logs and temp files
    replicas: list[Replica]
    nginx: subprocess.Popen[bytes]
    database_url: str | None = None  # the PostgreSQL the replicas keep job records in, if started
    extra: list[Replica] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    replica_env: dict[str, str] = field(default_factory=dict)  # what start() added to each replica's
    cleanup: ExitStack = field(default_factory=ExitStack)  # stops PostgreSQL, if started

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"

    def access_log(self) -> list[str]:
        path = self.prefix / "access.log"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def stop(self) -> None:
        replicas = [r.process for r in self.replicas + self.extra]
        for process in [self.nginx, *replicas, *(w.process for w in self.workers)]:
            _stop(process)
        self.cleanup.close()


def find_nginx() -> str:
    """nginx's path, or a RuntimeError saying how to install it."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        raise RuntimeError(
            "nginx is not installed: apt-get install -y --no-install-recommends nginx (Debian's package)"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env(workdir: Path, data_dir: Path, env: dict[str, str]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(workdir)),
        "PYTHONUNBUFFERED": "1",
        **env,
        "GENAI_MCP_DATA_DIR": str(data_dir),
    }


def start_replica(
    workdir: Path,
    token: str,
    key: str | None,
    data_dir: Path,
    public_url: str,
    env: dict[str, str],
    port: int | None = None,
) -> Replica:
    """One `genai-mcp serve --transport http` on `port` (default: a free one), not waited for (see
    wait_healthy); a replica started again on a dead one's port takes its place behind nginx."""
    port = port or free_port()
    log_path = workdir / f"replica-{port}.log"
    child_env = {
        **_child_env(workdir, data_dir, env),
        "GENAI_MCP_TOKENS": token,
        "GENAI_MCP_PUBLIC_URL": public_url,
    }
    if key is not None:
        child_env["GENAI_MCP_REQUEST_STATE_KEYS"] = key
    command = [sys.executable, "-m", "genai_mcp.server.cli", "serve", "--transport", "http"]
    with open(log_path, "ab") as log:  # the child keeps its own copy; a replica started again appends
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=child_env, stdout=log, stderr=subprocess.STDOUT
        )
    return Replica(port, process, log_path)


def start_worker(workdir: Path, data_dir: Path, env: dict[str, str], index: int) -> Worker:
    """One `genai-mcp worker` (not waited for: see wait_workers)."""
    log_path = workdir / f"worker-{index}.log"
    command = [sys.executable, "-m", "genai_mcp.cli", "worker"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=_child_env(workdir, data_dir, env), stdout=log, stderr=subprocess.STDOUT
        )
    return Worker(process, log_path)


def wait_workers(database_url: str, workers: list[Worker]) -> None:
    """Until every worker has registered with procrastinate (its pool open, listening for jobs)."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for w in workers:
            if w.process.poll() is not None:
                raise RuntimeError(
                    f"a worker exited with {w.process.returncode}:\n{w.log_path.read_text()[-3000:]}"
                )
        with psycopg.connect(database_url) as db:
            (table,) = db.execute("SELECT to_regclass('procrastinate_workers')").fetchone() or (None,)
            count = db.execute("SELECT count(*) FROM procrastinate_workers").fetchone() if table else None
        if count is not None and int(count[0]) >= len(workers):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the workers did not register within {START_TIMEOUT_S:.0f} s")


def wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /health within {START_TIMEOUT_S:.0f} s")


def config_text(prefix: Path, port: int, addresses: list[str]) -> str:
    """deploy/nginx.conf.template for nginx on `port` in front of `addresses` (host:port each)."""
    # One failure takes a replica out for 10 s: a killed one costs one refused connection, not one a call.
    servers = "\n".join(f"        server {a} max_fails=1 fail_timeout=10s;" for a in addresses)
    return (
        TEMPLATE.read_text(encoding="utf-8")
        .replace("@PREFIX@", str(prefix))
        .replace("@LISTEN@", f"127.0.0.1:{port}")
        .replace("@SERVERS@", servers)
        .replace("@MAX_BODY@", "64m")  # the replicas enforce their own, smaller, named limit
    )


def render_config(prefix: Path, port: int, replicas: list[Replica]) -> Path:
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(config_text(prefix, port, [r.address for r in replicas]), encoding="utf-8")
    return config


def start(
    workdir: Path,
    *,
    replicas: int = 2,
    port: int | None = None,
    token: str | None = None,
    key: str | None = None,
    env: dict[str, str] | None = None,
    postgres: bool = False,
    workers: int = 1,
) -> Deployment:
    """`replicas` genai-mcp processes and nginx in front of them, returned once nginx answers /health.

    `token` and `key` default to fresh random ones; `env` is added to every replica's environment
    (e.g. HF_HUB_OFFLINE=1). The data directory is workdir/data, shared by all replicas. With
    `postgres`, a PostgreSQL is started first and the replicas keep their job records in it
    (GENAI_MCP_DATABASE_URL) instead of the data directory's SQLite file, and `workers`
    `genai-mcp worker` processes train them (the replicas then run no worker of their own; with
    0 each replica trains in a thread). Without `postgres`, `workers` is ignored: each replica
    trains its own jobs.
    """
    nginx = find_nginx()
    workdir.mkdir(parents=True, exist_ok=True)
    cleanup = ExitStack()
    env = dict(env or {})
    if postgres:
        env["GENAI_MCP_DATABASE_URL"] = cleanup.enter_context(running_postgres())
    separate = postgres and workers > 0
    replica_env = {**env, "GENAI_MCP_JOB_WORKER": "false"} if separate else env
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    token = token or secrets.token_urlsafe(32)
    key = key or secrets.token_hex(32)
    data_dir = workdir / "data"
    started = [start_replica(workdir, token, key, data_dir, url, replica_env) for _ in range(replicas)]
    trainers: list[Worker] = []
    try:
        for replica in started:
            wait_healthy(f"http://{replica.address}", replica.process, replica.log_path)
        # After the replicas: their start has created the tables, so the workers never race for it.
        trainers = [start_worker(workdir, data_dir, env, i) for i in range(workers if separate else 0)]
        if trainers:
            wait_workers(env["GENAI_MCP_DATABASE_URL"], trainers)
        prefix = workdir / "nginx"
        config = render_config(prefix, port, started)
        log_path = prefix / "nginx.out"
        with open(log_path, "wb") as log:
            proxy = subprocess.Popen(
                [nginx, "-c", str(config), "-p", str(prefix)], stdout=log, stderr=subprocess.STDOUT
            )
        database = env.get("GENAI_MCP_DATABASE_URL")
        deployment = Deployment(
            url,
            token,
            key,
            data_dir,
            prefix,
            started,
            proxy,
            database,
            workers=trainers,
            replica_env=replica_env,
            cleanup=cleanup,
        )
        wait_healthy(url, proxy, log_path)
    except BaseException:
        for process in [*(r.process for r in started), *(w.process for w in trainers)]:
            _stop(process)
        cleanup.close()
        raise
    return deployment


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # nginx: fast shutdown; uvicorn: graceful
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()  # a replica may not exit while an SSE stream is open
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description="genai-mcp replicas behind nginx, on loopback")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="nginx's port")
    parser.add_argument("--workdir", type=Path, default=Path("deploy-run"), help="logs, nginx prefix, data")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a PostgreSQL for the fine-tuning jobs (Debian's postgresql-15)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="with --postgres: `genai-mcp worker` processes that train the jobs (0: one in each replica)",
    )
    args = parser.parse_args()
    # A token and key given in the environment are the operator's; otherwise fresh ones are printed.
    token = os.environ.get("GENAI_MCP_TOKENS")
    key = os.environ.get("GENAI_MCP_REQUEST_STATE_KEYS")
    passed = {k: v for k, v in os.environ.items() if k.startswith(("GENAI_MCP_", "HF_"))}
    deployment = start(
        args.workdir.resolve(),
        replicas=args.replicas,
        port=args.port,
        token=token,
        key=key,
        env=passed,
        postgres=args.postgres,
        workers=args.workers,
    )
    print(f"genai-mcp: {deployment.mcp_url} -> {', '.join(r.address for r in deployment.replicas)}")
    if deployment.workers:
        print(f"fine-tuning workers: {len(deployment.workers)} (logs: {args.workdir}/worker-N.log)")
    if token is None:
        print(f"GENAI_MCP_TOKENS={deployment.token}")
    if key is None:
        print(f"GENAI_MCP_REQUEST_STATE_KEYS={deployment.key}")
    try:
        deployment.nginx.wait()
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
