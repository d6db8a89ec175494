"""Host configuration: the formats people already have, ${VAR} expansion, and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_mcp.client import ConfigError, load_config


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_claude_desktop_file_with_env_expansion_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "local": {
                    "command": "genai-mcp",
                    "args": ["serve", "--data-dir", "${DATA}"],
                    "env": {"X": "1"},
                },
                "remote": {
                    "url": "http://127.0.0.1:8000/mcp",
                    "headers": {"Authorization": "Bearer ${env:TOKEN}"},
                    "protocol": "legacy",
                    "log_level": "debug",
                },
                "off": {"command": "x", "disabled": True},
            },
            "defaults": {"log_level": "warning", "elicitation": {"mode": "decline"}},
        },
    )
    config = load_config(path, env={"DATA": "/tmp/d", "TOKEN": "s3cret"})
    local, remote = config.servers["local"], config.servers["remote"]
    assert local.transport == "stdio" and local.args == ["serve", "--data-dir", "/tmp/d"]
    assert local.log_level == "warning" and local.elicitation.mode == "decline"  # from defaults
    assert (
        remote.transport == "http" and remote.headers["Authorization"].get_secret_value() == "Bearer s3cret"
    )
    assert "s3cret" not in repr(config)  # tokens stay out of reprs and logs
    assert remote.protocol == "legacy" and remote.log_level == "debug"  # the server's own setting wins
    assert config.servers["off"].disabled


def test_vscode_servers_key_with_type_and_fallback() -> None:
    config = load_config(
        {
            "inputs": [],
            "servers": {
                "web": {"type": "http", "url": "${URL:-http://127.0.0.1:9/mcp}"},
                "proc": {"type": "stdio", "command": "python", "args": ["-m", "x"]},
            },
        },
        env={},
    )
    assert config.servers["web"].url == "http://127.0.0.1:9/mcp"
    assert config.servers["proc"].transport == "stdio"


def test_sampling_and_elicitation_settings_are_checked() -> None:
    config = load_config(
        {
            "mcpServers": {
                "a": {
                    "command": "x",
                    "sampling": {
                        "backend": "openai",
                        "url": "http://h/v1",
                        "model": "m",
                        "api_key": "${KEY}",
                    },
                    "elicitation": {"mode": "answers", "answers": {"ok": True}},
                }
            }
        },
        env={"KEY": "sk-distinctive-42"},
    )
    sampling = config.servers["a"].sampling
    assert sampling.api_key is not None and sampling.api_key.get_secret_value() == "sk-distinctive-42"
    assert "sk-distinctive-42" not in repr(sampling)  # the key stays out of reprs and logs
    with pytest.raises(ConfigError, match=r"mcpServers\.a\.sampling: the openai backend needs 'url'"):
        load_config({"mcpServers": {"a": {"command": "x", "sampling": {"backend": "openai"}}}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mcpServers": {"a": {"comand": "x"}}}, r"mcpServers\.a: unknown key 'comand'"),
        (
            {"mcpServers": {"a": {"args": ["serve"]}}},
            r"mcpServers\.a: needs 'command' \(a stdio server\) or 'url'",
        ),
        ({"mcpServers": {"a": {"command": "x", "url": "http://h"}}}, "has both 'command' and 'url'"),
        ({"mcpServers": {"a": {"url": "ftp://h"}}}, "must start with http:// or https://"),
        ({"mcpServers": {"a": {"url": "http://h", "args": ["x"]}}}, "apply to stdio servers"),
        (
            {"mcpServers": {"a": {"command": "x", "protocol": "2024"}}},
            r"mcpServers\.a\.protocol: Input should be",
        ),
        (
            {"mcpServers": {"a": {"command": "x", "sampling": {"backend": "gpt"}}}},
            r"mcpServers\.a\.sampling\.backend",
        ),
        ({"mcpServers": {"a.b": {"command": "x"}}}, r"server name 'a\.b' must .* without '\.'"),
        ({"mcpServers": {}, "servers": {}}, "exactly one of 'mcpServers'"),
        ({"tools": {}}, "unknown top-level key 'tools'"),
        (
            {"servers": {"a": {"command": "x", "env": {"T": "${MISSING_VAR_XYZ}"}}}},
            r"servers\.a\.env\.T: environment variable MISSING_VAR_XYZ is not set",
        ),
        ({"servers": {"a": {"command": "${input:token}"}}}, r"cannot expand \$\{input:token\}"),
    ],
)
def test_config_errors_name_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(data, env={})


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path, '{"mcpServers": {"a": {"command": "x",}}}')
    with pytest.raises(ConfigError, match=r"mcp\.json is not valid JSON: .* line 1, column 38"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"cannot read config file .*nope\.json"):
        load_config(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="the top level must be a JSON object"):
        load_config(write(tmp_path, "[1, 2]"))
