"""docker-compose.yml and the Redis deployment config: structure, no committed secret, the read-only ACL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
import yaml

from exchange.servers import available_redis_kinds, free_port, redis_binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy" / "redis"
ENV = {
    "REDIS_PASSWORD": "pw-app",
    "REDIS_READONLY_PASSWORD": "pw-ro",
    "POSTGRES_PASSWORD": "pw-pg",
    "EXCHANGE_JWT_SECRET": "x" * 64,
}


def test_compose_has_the_whole_stack_and_no_secret() -> None:
    """Redis, PostgreSQL with a volume, init, API, workers and the demo mm profile; secrets only from env."""
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert set(services) == {"redis", "postgres", "init", "api", "worker", "mm"}
    assert services["mm"]["profiles"] == ["demo"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["worker"]["command"] == ["exchange", "worker"]
    text = COMPOSE.read_text()
    for name in ("REDIS_PASSWORD", "REDIS_READONLY_PASSWORD", "POSTGRES_PASSWORD", "EXCHANGE_JWT_SECRET"):
        assert f"${{{name}:?" in text, f"{name} must be required from the environment"
    for value in ENV.values():
        assert value not in text
    conf = (DEPLOY / "redis.conf").read_text()
    assert "appendonly yes" in conf and "maxmemory-policy noeviction" in conf and "aclfile" in conf


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) when present, else the standalone `docker-compose` (v1), else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _empty_env_file(directory: Path) -> Path:
    """An empty env file, so a developer's own `.env` cannot change what these tests see."""
    path = directory / "empty.env"
    path.write_text("")
    return path


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    """`docker compose config` accepts the file with every required variable set (CI installs Compose)."""
    command = _compose_command()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("CI must validate docker-compose.yml: .ci/run installs docker-compose")
        pytest.skip("neither `docker compose` nor `docker-compose` is installed on this machine")
    result = subprocess.run(
        [*command, "--env-file", str(_empty_env_file(tmp_path)), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_a_missing_secret(tmp_path: Path) -> None:
    """Without POSTGRES_PASSWORD set, Compose refuses the file: no default secret is baked in."""
    command = _compose_command()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("CI must validate docker-compose.yml: .ci/run installs docker-compose")
        pytest.skip("neither `docker compose` nor `docker-compose` is installed on this machine")
    env = {k: v for k, v in {**os.environ, **ENV}.items() if k != "POSTGRES_PASSWORD"}
    result = subprocess.run(
        [*command, "--env-file", str(_empty_env_file(tmp_path)), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def _render_acl(directory: Path) -> Path:
    text = (DEPLOY / "users.acl.template").read_text()
    text = text.replace("${REDIS_PASSWORD}", ENV["REDIS_PASSWORD"])
    text = text.replace("${REDIS_READONLY_PASSWORD}", ENV["REDIS_READONLY_PASSWORD"])
    path = directory / "users.acl"
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", available_redis_kinds())
def test_readonly_acl_user_reads_but_cannot_change_books_or_balances(kind: str) -> None:
    """The shipped ACL: `readonly` reads hashes, zsets, streams and calls the engine's read-only Functions
    (FCALL_RO); writes, scripts, writing Functions and admin are refused."""
    base = Path(tempfile.mkdtemp(prefix="exchange-acl-"))
    port = free_port()
    acl = _render_acl(base)
    proc = subprocess.Popen(
        [
            str(redis_binary(kind)),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(base),
            "--aclfile",
            str(acl),
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app = redis.Redis(
            port=port, username="exchange", password=ENV["REDIS_PASSWORD"], decode_responses=True
        )
        for _ in range(200):
            try:
                app.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        app.hset("balance:1", mapping={"USDT:available": 5, "USDT:held": 0})
        app.zadd("book:BTC-USDT:asks", {"0000000000000001": 100})
        app.xadd("events:BTC-USDT", {"seq": 1, "type": "x"}, id="1-0")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, decode_responses=True).ping()  # the default user is off
        ro = redis.Redis(
            port=port, username="readonly", password=ENV["REDIS_READONLY_PASSWORD"], decode_responses=True
        )
        assert ro.hgetall("balance:1") == {"USDT:available": "5", "USDT:held": "0"}
        assert ro.zrange("book:BTC-USDT:asks", 0, 9, withscores=True) == [("0000000000000001", 100.0)]
        assert len(ro.xrange("events:BTC-USDT")) == 1
        assert "balance:1" in set(ro.scan_iter())
        # the engine's read-only Functions (no-writes flag) are open to it: the redis.md recipes work
        from exchange.seed import seed_all

        seed_all(app)  # the library and the markets
        assert ro.execute_command("FCALL_RO", "ex_version", "0") == app.fcall_ro("ex_version", 0)
        book = ro.execute_command("FCALL_RO", "ex_book", "1", "market:BTC-USDT", "BTC-USDT", "10")
        assert json.loads(book) == {"seq": 0, "bids": [], "asks": []}  # levels come from depth:/level: keys
        with pytest.raises(redis.ResponseError):  # a writing Function, even through FCALL_RO
            ro.execute_command("FCALL_RO", "ex_place", "3", "market:BTC-USDT", "balance:1", "coid:1")
        refused = [
            ("HINCRBY", "balance:1", "USDT:available", "1"),
            ("HSET", "balance:1", "x", "1"),
            ("ZREM", "book:BTC-USDT:asks", "0000000000000001"),
            ("DEL", "balance:1"),
            ("FLUSHALL",),
            ("FCALL", "ex_place", "0"),
            ("EVAL", "return 1", "0"),
            ("FUNCTION", "FLUSH"),
            ("CONFIG", "SET", "appendonly", "no"),
            ("XADD", "events:BTC-USDT", "*", "a", "b"),
            ("SET", "seq:order", "1"),
            ("ACL", "SETUSER", "readonly", "+@all"),
        ]
        for command in refused:
            with pytest.raises(redis.exceptions.NoPermissionError):
                ro.execute_command(*command)
        assert app.hget("balance:1", "USDT:available") == "5"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(base, ignore_errors=True)
