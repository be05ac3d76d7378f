"""Settings come from environment variables; stack.json lets CLI commands find a running stack."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from exchange.api.settings import Settings as ApiSettings
from exchange.config import (
    AuthSettings,
    ConfigError,
    StackSettings,
    jwt_secret,
    load_settings,
    stack_urls,
)


def test_defaults_without_environment() -> None:
    """With no variables set, the documented defaults apply."""
    s = load_settings({})
    assert s.stack.data_dir == Path("var")
    assert (s.stack.host, s.stack.port) == ("127.0.0.1", 8000)
    assert (s.stack.api_processes, s.stack.workers) == (2, 1)
    assert s.stack.demo is True and s.stack.no_mm is False
    assert s.connections.redis_url is None and s.connections.database_url is None
    assert s.auth.jwt_secret is None


def test_environment_values_are_parsed_by_type() -> None:
    """Integers, booleans and paths are parsed from their variables."""
    s = StackSettings.from_env(
        {
            "EXCHANGE_PORT": "9001",
            "EXCHANGE_API_PROCESSES": "3",
            "EXCHANGE_NO_MM": "yes",
            "EXCHANGE_DEMO": "0",
            "EXCHANGE_DATA_DIR": "/tmp/x",
            "EXCHANGE_HOST": "0.0.0.0",
        }
    )
    assert (s.port, s.api_processes, s.no_mm, s.demo) == (9001, 3, True, False)
    assert (s.data_dir, s.host) == (Path("/tmp/x"), "0.0.0.0")


@pytest.mark.parametrize(("name", "value"), [("EXCHANGE_PORT", "80x"), ("EXCHANGE_DEMO", "maybe")])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    """An unparsable value raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=name):
        StackSettings.from_env({name: value})


def test_overrides_beat_environment() -> None:
    """Explicit overrides (CLI flags) win over the environment; None overrides are ignored."""
    s = StackSettings.from_env({"EXCHANGE_PORT": "9001"}, port=7000, host=None)
    assert (s.port, s.host) == (7000, "127.0.0.1")


def test_every_field_is_bound_to_a_variable() -> None:
    """describe() lists an EXCHANGE_* variable and a doc for each field."""
    for settings in (StackSettings, AuthSettings):
        for var, _default, doc in settings.describe():
            assert var.startswith("EXCHANGE_") and doc


def test_jwt_secret_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    """Without EXCHANGE_JWT_SECRET a long secret is stored 0600 and reused."""
    first = jwt_secret(tmp_path, {})
    assert len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode)
    assert mode == 0o600
    assert jwt_secret(tmp_path, {}) == first
    from_env = "from-env-" + "x" * 24
    assert jwt_secret(tmp_path, {"EXCHANGE_JWT_SECRET": from_env}) == from_env


def test_a_jwt_secret_shorter_than_32_bytes_is_refused(tmp_path: Path) -> None:
    """An HS256 key under 32 bytes stops `exchange up` (config) and the API (Settings) with a clear error."""
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        jwt_secret(tmp_path, {"EXCHANGE_JWT_SECRET": "x" * 31})
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ApiSettings(jwt_secret="x" * 31)
    assert ApiSettings(jwt_secret="x" * 32).jwt_secret == "x" * 32


def test_stack_urls_read_stack_json_and_env_wins(tmp_path: Path) -> None:
    """stack_urls reads stack.json; environment variables override each URL."""
    assert stack_urls(tmp_path, {}) == (None, None)
    (tmp_path / "stack.json").write_text(
        json.dumps({"redis_url": "redis://127.0.0.1:1/0", "database_url": "postgresql://h/db"})
    )
    assert stack_urls(tmp_path, {}) == ("redis://127.0.0.1:1/0", "postgresql://h/db")
    assert stack_urls(tmp_path, {"EXCHANGE_REDIS_URL": "redis://other/1"}) == (
        "redis://other/1",
        "postgresql://h/db",
    )
    assert stack_urls(None, {"EXCHANGE_DATA_DIR": str(tmp_path)})[1] == "postgresql://h/db"


def test_stale_stack_json_is_ignored(tmp_path: Path) -> None:
    """A stack.json whose supervisor is gone does not point commands at dead servers."""
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    info = {"redis_url": "redis://127.0.0.1:1/0", "database_url": "postgresql://h/db"}
    (tmp_path / "stack.json").write_text(json.dumps({**info, "supervisor_pid": int(dead.stdout)}))
    assert stack_urls(tmp_path, {}) == (None, None)
    (tmp_path / "stack.json").write_text(json.dumps({**info, "supervisor_pid": os.getpid()}))
    assert stack_urls(tmp_path, {}) == ("redis://127.0.0.1:1/0", "postgresql://h/db")
