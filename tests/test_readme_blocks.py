"""The README, executed: every code block runs as written, or is listed here with why it does not.

Each fenced block is claimed by exactly one entry of CLAIMS (its section, language and a line it
holds); a block nobody claims fails test_every_block_is_claimed, so a new snippet cannot go
unexercised by accident. What a block needs (a running server, an exported variable) the README
says in the sentence before it, and the test provides exactly that: the venv's bin on PATH, the
HTTP server started by the README's own command, the token exported, a fresh HOME (so the data
folder is a temporary one) and no network. Only the port differs from the text (a free one).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from genai_mcp.client import load_config
from tests.helpers.processes import free_port, stop, wait_until_healthy

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DEMO = REPO / "examples" / "demo.py"
VENV_BIN = Path(sys.executable).parent  # the venv the tests run in: "the venv active"


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    section: str  # the `## ` heading it sits under
    before: str  # the paragraph right before the fence, on one line

    def has(self, text: str) -> bool:
        return text in self.code


def readme_blocks() -> list[Block]:
    found: list[Block] = []
    section, paragraph, ended = "", list[str](), True  # ended: the next text line starts a paragraph
    lines = iter(README.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if line.startswith("## "):
            section, paragraph, ended = line[3:], [], True
        elif line.startswith("```"):
            body = []
            for inner in lines:
                if inner.startswith("```"):
                    break
                body.append(inner)
            found.append(Block(line[3:].strip(), "\n".join(body) + "\n", section, " ".join(paragraph)))
            paragraph, ended = [], True
        elif not line.strip():
            ended = True
        else:
            paragraph = [line.strip()] if ended else [*paragraph, line.strip()]
            ended = False
    return found


# (section starts with, language, text in the block) -> how it is exercised
CLAIMS: dict[tuple[str, str, str], str] = {
    ("Two commands", "sh", "make demo"): "not run here: `make demo` is the tour itself (minutes: it "
    "samples, indexes and fine-tunes; each of its calls is exercised by the tool tests) and "
    "`make test` is this very suite",
    ("Use it from an assistant", "json", '"mcpServers"'): "test_assistant_configs_load_in_the_host",
    ("Use it from an assistant", "json", '"servers"'): "test_assistant_configs_load_in_the_host",
    ("The host", "json", '"mcpServers"'): "servers.json of test_host_python_example / _shell_commands",
    ("The host", "python", "Host.from_config"): "test_host_python_example",
    ("The host", "sh", "genai-mcp host"): "test_host_shell_commands",
    ("Over HTTP", "sh", "genai-mcp serve --transport http"): "the readme_server fixture",
    ("Over HTTP", "sh", "curl"): "test_curl_session",
    ("Text generation on an inference engine", "sh", "transformers serve"): "checked, not typed into "
    "a shell (an engine start costs 10-35 s here): test_the_readme_engine_example_is_what_the_tests_run "
    "(tests/server/test_engine_generate.py) holds its command to the one the engine tests start and "
    "its settings to the Engine they test",
    ("Scaling out", "sh", "deploy/run.py"): "not typed into a shell (it runs until Ctrl-C): "
    "tests/e2e/test_deployment.py starts the same set-up through deploy.run.start(), which its main() calls",
    ("Scaling out", "nginx", "genai_sticky"): "test_the_readme_nginx_excerpt_is_the_template "
    "(tests/e2e/test_deployment.py): every line is in the config deploy/run.py renders and the test runs",
    ("Scaling out", "", "genai_mcp_jobs record"): "not code: the diagram of replicas, PostgreSQL and workers",
    ("Layout", "", "genai_mcp/ the package"): "not code: the folder diagram",
}


def claims_of(block: Block) -> list[tuple[str, str, str]]:
    return [c for c in CLAIMS if block.section.startswith(c[0]) and block.lang == c[1] and block.has(c[2])]


def claimed(section: str, lang: str, text: str) -> Block:
    matches = [b for b in readme_blocks() if (section, lang, text) in claims_of(b)]
    assert len(matches) == 1, f"README has {len(matches)} {lang} blocks in {section!r} with {text!r}"
    return matches[0]


def test_every_block_is_claimed() -> None:
    blocks = readme_blocks()
    unclaimed = [f"{b.section!r}: {b.code.splitlines()[0]!r}" for b in blocks if len(claims_of(b)) != 1]
    assert not unclaimed, f"README blocks that no test (or two) runs; add them to CLAIMS: {unclaimed}"
    for claim in CLAIMS:
        claimed(*claim)


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """What a reader's shell has: the venv active, a HOME (here a fresh one), offline."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        **extra,
    }


def on_port(code: str, port: int) -> str:
    moved = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")
    assert "8000" not in moved, code
    return moved


@dataclass(frozen=True)
class ReadmeServer:
    port: int
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadmeServer]:
    """The "Over HTTP with a bearer token" block, run: its export line makes the token, its serve
    line (from the repository root, as printed) starts the server."""
    export, serve = claimed("Over HTTP", "sh", "genai-mcp serve --transport http").code.strip().splitlines()
    tmp = tmp_path_factory.mktemp("readme-server")
    env = env_for(tmp / "home")
    made = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f'{export}\nprintf %s "$GENAI_MCP_TOKENS"'],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert made.returncode == 0 and len(made.stdout) >= 32, made.stderr
    port = free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + on_port(serve, port)],
            cwd=REPO,
            env={**env, "GENAI_MCP_TOKENS": made.stdout},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(proc, f"http://127.0.0.1:{port}", log_path)
        yield ReadmeServer(port, made.stdout)
    finally:
        stop(proc)


def test_sentences_before_blocks_say_what_they_need() -> None:
    for lang in ("json", "python"):
        before = claimed("The host", lang, '"mcpServers"' if lang == "json" else "Host.from_config").before
        assert "GENAI_TOKEN" in before and ("HTTP" in before or "server running" in before), before
    shell = claimed("The host", "sh", "genai-mcp host").before
    assert "servers.json" in shell and "GENAI_TOKEN" in shell, shell
    assert "repository root" in claimed("Over HTTP", "sh", "genai-mcp serve --transport http").before
    curl = claimed("Over HTTP", "sh", "curl").before
    assert "server running" in curl and "GENAI_MCP_TOKENS" in curl, curl


def test_assistant_configs_load_in_the_host() -> None:
    for key in ('"mcpServers"', '"servers"'):
        config = load_config(json.loads(claimed("Use it from an assistant", "json", key).code), env={})
        assert config.servers["genai"].args == ["serve"]


def test_curl_session(readme_server: ReadmeServer) -> None:
    script = on_port(claimed("Over HTTP", "sh", "curl").code, readme_server.port)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": "/usr/bin:/bin", "GENAI_MCP_TOKENS": readme_server.token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    data = [
        json.loads(line[len("data: ") :]) for line in out.stdout.splitlines() if line.startswith("data: {")
    ]
    assert data, out.stdout
    result = data[-1]["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["mean_at_k"][0]["precision"] == 0.5


def host_folder(tmp_path: Path, server: ReadmeServer) -> tuple[Path, dict[str, str]]:
    """A folder holding the README's servers.json, and the environment the section asks for."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "servers.json").write_text(on_port(claimed("The host", "json", '"mcpServers"').code, server.port))
    return work, env_for(tmp_path / "home", GENAI_TOKEN=server.token)


def test_host_python_example(readme_server: ReadmeServer, tmp_path: Path) -> None:
    work, env = host_folder(tmp_path, readme_server)
    (work / "example.py").write_text(claimed("The host", "python", "Host.from_config").code)
    done = subprocess.run(
        ["python", "example.py"], cwd=work, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = re.fullmatch(r"(\d+) tools: local\.\S+, local\.\S+, local\.\S+ \.\.\.", lines[0])
    assert listed and int(listed.group(1)) % 2 == 0, lines  # the same genai-mcp twice
    assert re.fullmatch(r"BLEU: \d+(\.\d+)?", lines[1]) and float(lines[1].split()[1]) > 0, lines
    links = lines[2:]
    assert len(links) == 4 and all(link.startswith("genai-mcp://outputs/") for link in links), lines
    # ... and, as the README says, the PNGs are files in the local server's data dir under HOME.
    outputs = tmp_path / "home" / ".local" / "share" / "genai-mcp" / "outputs"
    for link in links:
        assert (outputs / link.rsplit("/", 1)[1]).read_bytes().startswith(b"\x89PNG")


def test_host_shell_commands(readme_server: ReadmeServer, tmp_path: Path) -> None:
    work, env = host_folder(tmp_path, readme_server)
    commands = claimed("The host", "sh", "genai-mcp host").code.strip().splitlines()
    expected = {"tools": "remote.text_metrics", "call": "finish_reason", "read": "house/vit-digits"}

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=180
        )

    assert [next(w for w in c.split() if w in expected) for c in commands] == list(expected)
    for command, shows in zip(commands, expected.values(), strict=True):
        done = run(command)
        assert done.returncode == 0, (command, done.stderr)
        assert shows in done.stdout, (command, done.stdout)
    # Without --server the read is ambiguous (both servers offer models://list), as the README says.
    ambiguous = run(commands[2].replace(" --server remote", ""))
    assert ambiguous.returncode == 2, ambiguous.stderr
    assert "offered by local, remote; name the server with --server NAME" in ambiguous.stderr


def test_the_demo_paragraph_names_the_tools_the_demo_calls() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]  # the first column names the tools
    tools = {
        name
        for cell in re.findall(r"^\| (`\w+`(?: / `\w+`)*) \|", table, re.M)
        for name in re.findall(r"\w+", cell)
    }
    called = set(re.findall(r'"(?:local|remote)\.(\w+)"', DEMO.read_text(encoding="utf-8")))
    assert called <= tools and len(tools) == 29, (called - tools, sorted(tools))
    paragraph = " ".join(
        text.split("`make demo` starts", 1)[1].split("The house models are tiny", 1)[0].split()
    )
    said_called, said_left = paragraph.split(" leaves out ", 1)
    assert f"calls {len(called)} of the {len(tools)} tools" in said_called, said_called
    assert set(re.findall(r"`(\w+)`", said_called)) == called
    assert set(re.findall(r"`(\w+)`", said_left)) == tools - called
    assert f"{len(called)} of their {len(tools)} tools" in DEMO.read_text(encoding="utf-8")
