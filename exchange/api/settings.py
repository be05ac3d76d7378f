"""API settings, each bound to an environment variable (read once by `Settings.from_env()`)."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from exchange.config import MIN_JWT_SECRET_BYTES

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_ACCESS_TTL_S = 900


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw and raw.strip() else default


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` hits per `window_s` seconds (fixed window starting at the first hit)."""

    limit: int
    window_s: int


@dataclass(frozen=True)
class RateLimits:
    orders: RateLimit = RateLimit(200, 1)
    """EXCHANGE_RATE_ORDERS (per second): order placements and cancels per account (REST and WebSocket)."""
    login_email: RateLimit = RateLimit(10, 60)
    """EXCHANGE_RATE_LOGIN_EMAIL (per minute): login attempts per email from one client IP (so one client's
    wrong guesses do not lock the account's owner out)."""
    login_email_all: RateLimit = RateLimit(100, 60)
    """EXCHANGE_RATE_LOGIN_EMAIL_ALL (per minute): login attempts per email from all client IPs together
    (guessing from many addresses). Once spent, an address the account is signed in from (a live session
    started there) still gets through, so the guessing locks no owner out."""
    login_ip: RateLimit = RateLimit(60, 60)
    """EXCHANGE_RATE_LOGIN_IP (per minute): login attempts per client IP."""
    register_ip: RateLimit = RateLimit(30, 60)
    """EXCHANGE_RATE_REGISTER_IP (per minute): registrations per client IP."""
    refresh_ip: RateLimit = RateLimit(120, 60)
    """EXCHANGE_RATE_REFRESH_IP (per minute): token refreshes per client IP."""
    logout_ip: RateLimit = RateLimit(60, 60)
    """EXCHANGE_RATE_LOGOUT_IP (per minute): logouts per client IP (each may write a revocation)."""
    reads_ip: RateLimit = RateLimit(1200, 60)
    """EXCHANGE_RATE_READS_IP (per minute): market-data reads that do work per request (book, estimate,
    trades, candles) per client IP. Cached lists (assets, markets, tickers) are not counted."""
    reads_account: RateLimit = RateLimit(1200, 60)
    """EXCHANGE_RATE_READS_ACCOUNT (per minute): history reads from PostgreSQL (orders, CSV export, fills,
    positions) per account."""

    @classmethod
    def from_env(cls) -> RateLimits:
        return cls(
            orders=RateLimit(_int("EXCHANGE_RATE_ORDERS", 200), 1),
            login_email=RateLimit(_int("EXCHANGE_RATE_LOGIN_EMAIL", 10), 60),
            login_email_all=RateLimit(_int("EXCHANGE_RATE_LOGIN_EMAIL_ALL", 100), 60),
            login_ip=RateLimit(_int("EXCHANGE_RATE_LOGIN_IP", 60), 60),
            register_ip=RateLimit(_int("EXCHANGE_RATE_REGISTER_IP", 30), 60),
            refresh_ip=RateLimit(_int("EXCHANGE_RATE_REFRESH_IP", 120), 60),
            logout_ip=RateLimit(_int("EXCHANGE_RATE_LOGOUT_IP", 60), 60),
            reads_ip=RateLimit(_int("EXCHANGE_RATE_READS_IP", 1200), 60),
            reads_account=RateLimit(_int("EXCHANGE_RATE_READS_ACCOUNT", 1200), 60),
        )


def _default_urls() -> tuple[str | None, str | None]:
    """URLs of a running `exchange up` stack (`exchange.config.stack_urls`), when there is one."""
    try:
        from exchange.config import stack_urls

        data_dir = Path(os.environ.get("EXCHANGE_DATA_DIR", "var"))
        redis_url, database_url = stack_urls(data_dir)
        return redis_url, database_url
    except Exception:
        return None, None


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    """EXCHANGE_REDIS_URL: the engine's Redis (else the running stack's, from `<data_dir>/stack.json`)."""
    database_url: str | None = None
    """EXCHANGE_DATABASE_URL: PostgreSQL with the accounts and history tables."""
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    """EXCHANGE_JWT_SECRET: HS256 key (>= 32 bytes). Unset: a random per-process key (single process only)."""
    jwt_issuer: str = "exchange"
    """EXCHANGE_JWT_ISSUER."""
    jwt_audience: str = "exchange-api"
    """EXCHANGE_JWT_AUDIENCE."""
    access_ttl_s: int = 600
    """EXCHANGE_ACCESS_TTL_S: access token lifetime (capped at 900 s)."""
    refresh_ttl_s: int = 7 * 24 * 3600
    """EXCHANGE_REFRESH_TTL_S: refresh token lifetime."""
    demo: bool = False
    """EXCHANGE_DEMO: credit demo funds to every new account."""
    allowed_origins: tuple[str, ...] = ()
    """EXCHANGE_ALLOWED_ORIGINS: comma-separated extra browser origins allowed on the WebSocket and with the
    refresh cookie."""
    rate_limits: RateLimits = field(default_factory=RateLimits)
    max_body_bytes: int = 64 * 1024
    """EXCHANGE_MAX_BODY_BYTES: request bodies above this are refused (413)."""
    frontend_dist: Path = REPO_ROOT / "frontend" / "dist"
    """EXCHANGE_FRONTEND_DIST: built frontend served at `/` when the folder exists."""
    db_pool_max: int = 10
    """EXCHANGE_DB_POOL_MAX: PostgreSQL connections per API process."""
    load_library: bool = True
    """EXCHANGE_LOAD_LIBRARY: load (FUNCTION LOAD REPLACE) the engine library at startup."""

    def __post_init__(self) -> None:
        if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"EXCHANGE_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256 key)")
        if self.access_ttl_s > MAX_ACCESS_TTL_S or self.access_ttl_s <= 0:
            object.__setattr__(self, "access_ttl_s", min(max(self.access_ttl_s, 1), MAX_ACCESS_TTL_S))

    @classmethod
    def from_env(cls) -> Settings:
        redis_url = os.environ.get("EXCHANGE_REDIS_URL") or None
        database_url = os.environ.get("EXCHANGE_DATABASE_URL") or None
        if redis_url is None or database_url is None:
            stack_redis, stack_db = _default_urls()
            redis_url = redis_url or stack_redis
            database_url = database_url or stack_db
        secret = os.environ.get("EXCHANGE_JWT_SECRET") or ""
        stored = Path(os.environ.get("EXCHANGE_DATA_DIR", "var")) / "jwt_secret"
        if not secret and stored.is_file():  # written (mode 600) by `exchange up`
            secret = stored.read_text().strip()
        if not secret:
            log.warning("EXCHANGE_JWT_SECRET is unset: using a random key (tokens die with this process)")
            secret = secrets.token_urlsafe(48)
        origins = tuple(
            o.strip() for o in os.environ.get("EXCHANGE_ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        dist = os.environ.get("EXCHANGE_FRONTEND_DIST")
        return cls(
            redis_url=redis_url,
            database_url=database_url,
            jwt_secret=secret,
            jwt_issuer=os.environ.get("EXCHANGE_JWT_ISSUER", "exchange"),
            jwt_audience=os.environ.get("EXCHANGE_JWT_AUDIENCE", "exchange-api"),
            access_ttl_s=_int("EXCHANGE_ACCESS_TTL_S", 600),
            refresh_ttl_s=_int("EXCHANGE_REFRESH_TTL_S", 7 * 24 * 3600),
            demo=_bool("EXCHANGE_DEMO", False),
            allowed_origins=origins,
            rate_limits=RateLimits.from_env(),
            max_body_bytes=_int("EXCHANGE_MAX_BODY_BYTES", 64 * 1024),
            frontend_dist=Path(dist) if dist else REPO_ROOT / "frontend" / "dist",
            db_pool_max=_int("EXCHANGE_DB_POOL_MAX", 10),
            load_library=_bool("EXCHANGE_LOAD_LIBRARY", True),
        )
