"""Settings, one dataclass per concern, every field bound to an environment variable.

Read them with `XSettings.from_env()` (or `load_settings()` for all of them). Field docstrings say what a
variable does; `describe()` lists every variable with its default.

A running `exchange up` writes `<data_dir>/stack.json`; `stack_urls(data_dir)` reads it so that
`exchange status/book/reconcile/restore/worker/...` find the running stack without any flags
(EXCHANGE_REDIS_URL / EXCHANGE_DATABASE_URL still win). Commands call `find_stack_urls`, whose
`StackNotFound` carries the one "no stack" message they all give.
"""

from __future__ import annotations

import json
import os
import secrets
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

STACK_FILE = "stack.json"
JWT_SECRET_FILE = "jwt_secret"
MIN_JWT_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """An environment variable has a value that cannot be used; the message names it."""


def env(name: str, default: Any = None, doc: str = "") -> Any:
    """A dataclass field read from environment variable `name`."""
    return field(default=default, metadata={"env": name, "doc": doc})


def _parse(name: str, raw: str, annotation: Any) -> Any:
    kinds = set(typing.get_args(annotation)) if isinstance(annotation, types.UnionType) else {annotation}
    kinds.discard(type(None))
    kind = kinds.pop() if len(kinds) == 1 else str
    if kind is bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected an integer") from None
    if kind is Path:
        return Path(raw)
    return raw


class _FromEnv:
    """Mixin: build a settings dataclass from the environment (unset or empty values keep the default)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        source = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            name: str = f.metadata.get("env", "")
            raw = source.get(name) if name else None
            if raw is not None and (raw != "" or hints[f.name] is bool):
                values[f.name] = _parse(name, raw, hints[f.name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(env var, default, doc) of every field."""
        out = []
        for f in fields(cls):  # type: ignore[arg-type]
            default = "" if f.default is MISSING or f.default is None else str(f.default)
            out.append((f.metadata.get("env", ""), default, f.metadata.get("doc", "")))
        return out


@dataclass(frozen=True)
class ConnectionSettings(_FromEnv):
    """Where the engine's Redis and the PostgreSQL history database are."""

    redis_url: str | None = env(
        "EXCHANGE_REDIS_URL", None, "Redis URL; unset: `exchange up` starts its own Redis with AOF"
    )
    """Redis (or Valkey) URL holding the engine state. Unset: `exchange up` starts an embedded server."""

    database_url: str | None = env(
        "EXCHANGE_DATABASE_URL", None, "PostgreSQL URL; unset: `exchange up` starts its own PostgreSQL"
    )
    """PostgreSQL URL for accounts and history. Unset: `exchange up` starts an embedded server."""


@dataclass(frozen=True)
class StackSettings(_FromEnv):
    """How `exchange up` lays out the processes it supervises."""

    data_dir: Path = env("EXCHANGE_DATA_DIR", Path("var"), "servers' data, logs, stack.json")  # noqa: RUF009
    """Directory for the embedded servers' data, child logs, stack.json and the generated JWT secret."""

    host: str = env("EXCHANGE_HOST", "127.0.0.1", "API listen address")
    """Address the API (and the built terminal) listens on."""

    port: int = env("EXCHANGE_PORT", 8000, "API listen port")
    """Port the API listens on."""

    api_processes: int = env("EXCHANGE_API_PROCESSES", 2, "number of API (uvicorn) processes")
    """Number of API processes sharing the port."""

    workers: int = env("EXCHANGE_WORKERS", 1, "number of RQ persistence workers")
    """Number of `exchange worker` processes."""

    no_mm: bool = env("EXCHANGE_NO_MM", False, "1: do not start the demo market maker")
    """Do not start the demo market maker."""

    demo: bool = env("EXCHANGE_DEMO", True, "1: demo mode (every new account gets demo funds)")
    """Demo mode: passed to the API as EXCHANGE_DEMO (every new account is credited demo funds)."""


@dataclass(frozen=True)
class AuthSettings(_FromEnv):
    """Secrets for API authentication."""

    jwt_secret: str | None = env(
        "EXCHANGE_JWT_SECRET", None, "HMAC key for JWTs; unset: generated into <data_dir>/jwt_secret"
    )
    """HMAC key for access tokens (>= 32 bytes). Unset: `exchange up` generates and keeps one."""

    def __post_init__(self) -> None:
        if self.jwt_secret and len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ConfigError(
                f"EXCHANGE_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256 key), e.g. the "
                "output of: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )


@dataclass(frozen=True)
class Settings:
    """Every settings group, read at once."""

    connections: ConnectionSettings
    stack: StackSettings
    auth: AuthSettings


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every settings group from `environ` (default: os.environ)."""
    return Settings(
        connections=ConnectionSettings.from_env(environ),
        stack=StackSettings.from_env(environ),
        auth=AuthSettings.from_env(environ),
    )


def jwt_secret(data_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """EXCHANGE_JWT_SECRET if set, else the secret stored in `<data_dir>/jwt_secret` (created with mode
    600 on first use, so tokens stay valid across restarts)."""
    configured = AuthSettings.from_env(environ).jwt_secret
    if configured:
        return configured
    path = Path(data_dir) / JWT_SECRET_FILE
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    path.chmod(0o600)
    return secret


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_stack_file(data_dir: Path) -> dict[str, Any] | None:
    """Contents of `<data_dir>/stack.json` written by a running `exchange up`, or None (also when the
    file is left over from a supervisor that no longer runs)."""
    try:
        data = json.loads((Path(data_dir) / STACK_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("supervisor_pid")
    if isinstance(pid, int) and not _pid_running(pid):
        return None
    return data


def stack_urls(
    data_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """(redis_url, database_url): environment variables first, else the running stack's stack.json
    (data_dir defaults to EXCHANGE_DATA_DIR, else ./var). Either is None when nothing is known."""
    conn = ConnectionSettings.from_env(environ)
    if conn.redis_url and conn.database_url:
        return conn.redis_url, conn.database_url
    directory = Path(data_dir) if data_dir is not None else StackSettings.from_env(environ).data_dir
    stack = read_stack_file(directory) or {}
    return (
        conn.redis_url or stack.get("redis_url") or None,
        conn.database_url or stack.get("database_url") or None,
    )


class StackNotFound(RuntimeError):
    """A command needs the stack's Redis or PostgreSQL and no URL is known: none was passed, none is in the
    environment, and no running `exchange up` has a stack.json in the data dir. The message says where it
    looked and every way to name the stack; the `exchange` entry point prints it and exits with `EXIT_CODE`
    (2, a usage error: the command was not told where the stack is)."""

    EXIT_CODE = 2


def find_stack_urls(
    data_dir: Path | str | None = None,
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
    need: tuple[str, ...] = ("redis", "database"),
) -> tuple[str | None, str | None]:
    """(redis_url, database_url) for a command: the URLs it was passed, else the environment variables, else
    the running stack's stack.json in `data_dir` (default EXCHANGE_DATA_DIR, else ./var). Raises
    `StackNotFound` when a URL named in `need` ("redis", "database") is still unknown."""
    directory = Path(data_dir) if data_dir is not None else StackSettings.from_env().data_dir
    if not (redis_url or "redis" not in need) or not (database_url or "database" not in need):
        found_redis, found_database = stack_urls(directory)
        redis_url, database_url = redis_url or found_redis, database_url or found_database
    missing = [n for n in need if not (redis_url if n == "redis" else database_url)]
    if missing:
        raise StackNotFound(no_stack_message(directory, missing))
    return redis_url, database_url


def no_stack_message(data_dir: Path, missing: list[str]) -> str:
    """The one "no stack" message of every command: the directory looked in, why nothing was found there,
    and the options and variables that name the stack (`missing`: "redis" and/or "database")."""
    directory = Path(data_dir).resolve()
    why = (
        "its stack.json is from an `exchange up` that no longer runs"
        if (directory / STACK_FILE).exists()
        else "no stack.json there"
    )
    flags = " and ".join(f"--{n}-url" for n in missing)
    variables = " and ".join(f"EXCHANGE_{n.upper()}_URL" for n in missing)
    return (
        f"no running stack found in {directory} ({why}): point --data-dir (or EXCHANGE_DATA_DIR) at the "
        f"data dir of `exchange up`, or pass {flags} (or set {variables})"
    )
