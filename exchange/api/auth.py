"""Passwords (argon2id) and tokens (JWT, HS256 pinned, issuer and audience checked).

- Access token: `{"sub": "<account id>", "typ": "access", "iss", "aud", "iat", "exp", "jti", "sid"}`,
  lifetime `settings.access_ttl_s` (<= 15 min; `iat` to the millisecond; `sid` the login session it was
  issued to). Stateless: valid until it expires or a logout revokes it (`exchange.api.revocation`:
  `tokens.revocations` is this process's view).
- Refresh token: the same claims with `"typ": "refresh"`; its `jti` is stored in PostgreSQL
  `refresh_tokens` with its session and every use rotates it (the old one stops working; a reused rotated
  token ends its session, see `exchange.api.accounts.Sessions.rotate`).

The WebSocket (`exchange.api.ws`) authenticates with `app.state.tokens.decode_access_claims(token)`.
`provide_account_id` is the Litestar dependency for `Authorization: Bearer <access token>`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar import Request

from exchange.api.errors import ApiError, ErrorCode
from exchange.api.revocation import AccessClaims, Revocations
from exchange.api.settings import MAX_ACCESS_TTL_S, Settings

ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 10_000

# OWASP's argon2id baseline (19 MiB, t=2, p=1): strong and fast enough to run per login on 2 cores.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (`None` verifies against a dummy hash)."""
    return await asyncio.to_thread(_verify, password_hash, password)


@dataclass(frozen=True)
class RefreshClaims:
    account_id: int
    jti: str
    expires_at: int  # epoch seconds


def new_session_id() -> str:
    return secrets.token_urlsafe(12)


class TokenService:
    def __init__(self, settings: Settings, clock: Any = time.time) -> None:
        self._key = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.access_ttl_s = settings.access_ttl_s
        self.refresh_ttl_s = settings.refresh_ttl_s
        self._clock = clock
        self._verified: dict[str, AccessClaims] = {}  # access token -> its claims
        # kept for the longest lifetime any process may give a token, not this one's: during a rolling change
        # of EXCHANGE_ACCESS_TTL_S, a process with the shorter setting must not forget or trim an entry
        # that still names a live token issued by one with the longer
        self.revocations = Revocations(MAX_ACCESS_TTL_S)

    def _encode(
        self, account_id: int, typ: str, ttl_s: int, sid: str, jti: str | None = None, exp: int | None = None
    ) -> tuple[str, str, int]:
        now_ms = int(self._clock() * 1000)
        jti = jti or secrets.token_urlsafe(18)
        exp = exp or now_ms // 1000 + ttl_s
        claims = {
            "sub": str(account_id),
            "typ": typ,
            "iss": self._issuer,
            "aud": self._audience,
            # to the millisecond: a revocation of every token issued before an instant compares with it
            "iat": now_ms // 1000 if now_ms % 1000 == 0 else now_ms / 1000,
            "exp": exp,
            "jti": jti,
        }
        if sid:
            claims["sid"] = sid
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), jti, exp

    def issue_access(self, account_id: int, sid: str = "") -> str:
        """An access token of session `sid` ('' : of no session, as tests and tools make them)."""
        return self._encode(account_id, "access", self.access_ttl_s, sid)[0]

    def new_refresh_id(self) -> tuple[str, int]:
        """A refresh token's id and expiry (epoch s), to store before the token is signed
        (`issue_refresh(..., jti=, exp=)`)."""
        return secrets.token_urlsafe(18), int(self._clock()) + self.refresh_ttl_s

    def issue_refresh(
        self, account_id: int, sid: str = "", jti: str | None = None, exp: int | None = None
    ) -> tuple[str, RefreshClaims]:
        token, jti, exp = self._encode(account_id, "refresh", self.refresh_ttl_s, sid, jti, exp)
        return token, RefreshClaims(account_id, jti, exp)

    def _decode(self, token: str, typ: str) -> dict[str, Any]:
        if not token or len(token) > 4096:
            raise ApiError(ErrorCode.INVALID_TOKEN, "invalid token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(ErrorCode.INVALID_TOKEN, "token expired") from None
        except jwt.PyJWTError:
            raise ApiError(ErrorCode.INVALID_TOKEN, "invalid token") from None
        if claims.get("typ") != typ:
            raise ApiError(
                ErrorCode.INVALID_TOKEN, f"not an {typ} token" if typ == "access" else "not a refresh token"
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.isdigit() or not 1 <= int(sub) < 2**53:
            raise ApiError(ErrorCode.INVALID_TOKEN, "invalid token subject")
        return claims

    def decode_access(self, token: str) -> int:
        """The account id of a valid access token, else `ApiError(INVALID_TOKEN)` (401)."""
        return self.decode_access_claims(token).account_id

    def decode_access_claims(self, token: str) -> AccessClaims:
        """The claims of a valid, unrevoked access token, else `ApiError(INVALID_TOKEN)` (401).

        Verified tokens are remembered (by their exact text) until they expire, so a client's repeated
        requests skip the signature check; only successes are cached, and `exp` and revocation are checked
        on every call."""
        claims = self._verified.get(token)
        if claims is None or self._clock() >= claims.exp:
            if claims is not None:
                del self._verified[token]
            decoded = self._decode(token, "access")
            sid = decoded.get("sid", "")
            claims = AccessClaims(
                int(decoded["sub"]),
                str(decoded["jti"]),
                _epoch_ms(decoded["iat"]),
                int(decoded["exp"]),
                sid if isinstance(sid, str) else "",
            )
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()  # crude but bounded; a full cache refills from live clients
            self._verified[token] = claims
        if self.revocations.revoked(claims):
            raise ApiError(ErrorCode.INVALID_TOKEN, "token revoked (logged out)")
        return claims

    def decode_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, "refresh")
        return RefreshClaims(int(claims["sub"]), str(claims["jti"]), int(claims["exp"]))


def _epoch_ms(iat: Any) -> int:
    """`iat` (seconds, possibly fractional: PyJWT checked it is a number) in whole milliseconds."""
    return round(float(iat) * 1000)


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(ErrorCode.UNAUTHORIZED, "missing bearer token")
    return token.strip()


async def provide_access_claims(request: Request[Any, Any, Any]) -> AccessClaims:
    """Litestar dependency: the claims of the bearer access token (401 without a valid one)."""
    tokens: TokenService = request.app.state.tokens
    return tokens.decode_access_claims(bearer_token(request))


async def provide_account_id(request: Request[Any, Any, Any]) -> int:
    """Litestar dependency: the authenticated account id (401 without a valid access token)."""
    tokens: TokenService = request.app.state.tokens
    return tokens.decode_access(bearer_token(request))
