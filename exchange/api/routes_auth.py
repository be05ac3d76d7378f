"""`/api/auth/*` and `/api/me`: registration, login, refresh rotation, logout."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from exchange.api import accounts, revocation
from exchange.api.auth import (
    RefreshClaims,
    hash_password,
    new_session_id,
    provide_access_claims,
    provide_account_id,
    verify_password,
)
from exchange.api.context import Services, client_ip, limit_read, services
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.openapi import errors
from exchange.api.origin import normalize_origins, origin_allowed
from exchange.api.password_policy import password_problem
from exchange.api.revocation import AccessClaims
from exchange.api.schemas import (
    SESSION_ID_PATTERN,
    Account,
    Credentials,
    LoginRequest,
    LogoutRequest,
    PasswordChange,
    RefreshRequest,
    Session,
    SessionsEnded,
    TokenPair,
)
from exchange.engine.errors import InvalidAmount

log = logging.getLogger(__name__)

# Demo funds credited to each new account when EXCHANGE_DEMO=1 (assets missing from the engine are skipped).
DEMO_FUNDS: dict[str, str] = {
    "USDT": "100000",
    "BTC": "2",
    "ETH": "20",
    "BNB": "100",
    "MINA": "20000",
    "ATOM": "2000",
    "DOT": "2000",
}


async def credit_demo_funds(svc: Services, account_id: int) -> None:
    """Deposit `DEMO_FUNDS` with refs `demo:{account}:{asset}` (idempotent). An asset whose supply is
    exhausted (its deposits would reach 2^53 minor units) is skipped with a warning; the others are still
    credited."""
    await svc.markets.reload()
    for asset, amount in DEMO_FUNDS.items():
        decimals = svc.markets.decimals.get(asset)
        if decimals is None:
            continue
        minor = int(Decimal(amount).scaleb(decimals))
        try:
            ref = f"demo:{account_id}:{asset}"
            await svc.engine.deposit(account_id, asset, minor, ref, ts_ms=svc.clock())
        except InvalidAmount as exc:
            log.warning("demo %s for account %s not credited: %s", asset, account_id, exc)


# The terminal's refresh token: an httpOnly cookie, so no script on the page (an injected one included) can
# read it. Only the auth routes receive it, and only same-site requests carry it; a request from a foreign
# page that still carries it (an allowed-list miss) is refused by its Origin.
REFRESH_COOKIE = "exchange_refresh"
REFRESH_COOKIE_PATH = "/api/auth"


def _refresh_cookie(request: Request[Any, Any, Any], token: str | None, max_age: int) -> Cookie:
    """The cookie that holds `token`, or (token None) the one that deletes it."""
    return Cookie(
        key=REFRESH_COOKIE,
        value=token or "",
        path=REFRESH_COOKIE_PATH,
        max_age=max_age if token else 0,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _same_site(request: Request[Any, Any, Any], svc: Services) -> None:
    """403 `FORBIDDEN` unless the request comes from this site's pages (or not from a browser): the refresh
    cookie is neither read nor set for another origin. Setting it matters as much as reading it: a foreign
    page's form could otherwise log the victim's terminal into the attacker's account (login CSRF)."""
    allowed = normalize_origins(svc.settings.allowed_origins)
    if not origin_allowed(request.headers.get("origin"), request.headers.get("host"), allowed):
        raise ApiError(ErrorCode.FORBIDDEN, "the refresh cookie is used only by this site's pages")


def _cookie_token(request: Request[Any, Any, Any], svc: Services) -> str | None:
    """The refresh token of the cookie, if any (checked `_same_site`)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    _same_site(request, svc)
    return token


def _tokens(
    request: Request[Any, Any, Any],
    svc: Services,
    account_id: int,
    refresh: str,
    *,
    cookie: bool,
    access: str | None = None,
) -> Response[TokenPair]:
    """An access token (`access`, else a new one) with `refresh`: in the body, or (cookie) as the refresh
    cookie only."""
    pair = TokenPair(
        access_token=access or svc.tokens.issue_access(account_id),
        token_type="bearer",
        expires_in=svc.tokens.access_ttl_s,
        refresh_token=None if cookie else refresh,
    )
    cookies = [_refresh_cookie(request, refresh, svc.tokens.refresh_ttl_s)] if cookie else []
    return Response(pair, cookies=cookies)


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", operation_id="register", responses=errors(409, 422, 429))
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[Credentials]) -> Account:
        """Create an account (demo mode: with demo funds). 409 `EMAIL_TAKEN` when the email exists; 422
        `WEAK_PASSWORD` for a password guessers try first (only spaces, one character repeated, the email,
        a common password)."""
        svc = services(request)
        await svc.limiter.hit("register_ip", client_ip(request), svc.settings.rate_limits.register_ip)
        problem = password_problem(data.password, data.email)
        if problem:
            raise ApiError(ErrorCode.WEAK_PASSWORD, problem)
        row = await accounts.create_account(
            svc.require_pool(), data.email, await hash_password(data.password)
        )
        if svc.settings.demo:
            try:
                await credit_demo_funds(svc, row.id)
            except Exception:  # the account exists either way; funds can be credited by an admin
                log.exception("demo funds for account %s failed", row.id)
        return Account(**row.as_api())

    @post("/login", operation_id="login", status_code=200, responses=errors(401, 422, 429))
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest]
    ) -> Response[TokenPair]:
        """Exchange email and password for an access token (<= 15 min) and a refresh token (with
        `refresh_cookie: true`, as the httpOnly `exchange_refresh` cookie instead of in the body). Each login
        starts a session (`GET /api/auth/sessions`)."""
        svc = services(request)
        if data.refresh_cookie:
            _same_site(request, svc)
        limits = svc.settings.rate_limits
        ip, email = client_ip(request), accounts.normalize_email(data.email)
        await svc.limiter.hit("login_ip", ip, limits.login_ip)
        # per email from this IP first: a client refused there does not spend the email's overall budget, so
        # one client guessing cannot lock the owner out; the overall one stops guessing from many addresses
        await svc.limiter.hit("login_email", f"{email} {ip}", limits.login_email)
        try:
            await svc.limiter.hit("login_email_all", email, limits.login_email_all)
        except ApiError:
            # the email is being guessed from many addresses: its owner still gets in from an address it is
            # signed in from (a live session; still bounded by `login_email` there): no one is locked out
            if not await svc.sessions().known_address(email, ip):
                raise
        row = await accounts.account_by_email(svc.require_pool(), data.email)
        if not await verify_password(row.password_hash if row else None, data.password) or row is None:
            raise ApiError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
        sid = new_session_id()
        refresh, claims = svc.tokens.issue_refresh(row.id, sid)
        user_agent = request.headers.get("user-agent", "")
        sessions = svc.sessions()
        if not await sessions.start(
            sid, row.id, row.password_hash, claims.jti, claims.expires_at, user_agent, ip
        ):
            # the password was reset while this login checked the old one
            raise ApiError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
        if data.refresh_cookie:
            # this browser's previous login (its cookie is being replaced): it ends rather than lingering on,
            # unreachable, for the refresh token's lifetime
            await _end_cookie_session(svc, request)
        access = svc.tokens.issue_access(row.id, sid)
        return _tokens(request, svc, row.id, refresh, cookie=data.refresh_cookie, access=access)

    @post("/refresh", operation_id="refresh", status_code=200, responses=errors(401, 422, 429))
    async def refresh(
        self, request: Request[Any, Any, Any], data: JSONBody[RefreshRequest]
    ) -> Response[TokenPair]:
        """Rotate a refresh token: returns a new pair; the presented refresh token stops working. `{}`
        rotates the `exchange_refresh` cookie's token, and the new one comes back as that cookie (as it
        does for a body token with `refresh_cookie: true`: how a session kept by script moves to it). A
        refresh token presented a second time has leaked: its session ends (that login's refresh and access
        tokens); the account's other sessions live on."""
        svc = services(request)
        if data.refresh_cookie:
            _same_site(request, svc)
        await svc.limiter.hit("refresh_ip", client_ip(request), svc.settings.rate_limits.refresh_ip)
        token = data.refresh_token
        from_cookie = token is None
        if token is None:
            token = _cookie_token(request, svc)
            if token is None:
                raise ApiError(ErrorCode.INVALID_TOKEN, "no refresh token in the body or the cookie")
        claims = svc.tokens.decode_refresh(token)
        account_id = claims.account_id
        new_jti, new_expires_at = svc.tokens.new_refresh_id()

        def sign(sid: str) -> tuple[str, str]:
            # before the rotation commits, so the access token's `iat` precedes any revoke-all that runs
            # after it (they are serialized per account): a logout everywhere's `before` covers it
            refresh = svc.tokens.issue_refresh(account_id, sid, jti=new_jti, exp=new_expires_at)[0]
            return refresh, svc.tokens.issue_access(account_id, sid)

        # a reuse (it leaked) ends that session, its access tokens too (the thief's fresh one included)
        rotation = await svc.sessions().rotate(claims.jti, account_id, new_jti, new_expires_at, sign)
        if rotation.outcome in (accounts.Rotation.REUSED, accounts.Rotation.ENDED):
            raise ApiError(
                ErrorCode.SESSION_ENDED,
                "this login was ended (a logout here or on another device, an admin, a password reset, "
                "or its refresh token used twice): log in again",
            )
        if rotation.signed is None:
            raise ApiError(ErrorCode.INVALID_TOKEN, "refresh token unknown or expired")
        new_refresh, access = rotation.signed
        return _tokens(
            request, svc, account_id, new_refresh, cookie=from_cookie or data.refresh_cookie, access=access
        )

    @post(
        "/logout",
        operation_id="logout",
        status_code=204,
        responses=errors(401, 422, 429),
        opt={"empty_body": True},  # no body at all is `{}` (exchange.api.app.JsonRequest)
    )
    async def logout(self, request: Request[Any, Any, Any], data: JSONBody[LogoutRequest]) -> Response[None]:
        """End the session of the given refresh token (this device: its refresh token and every access token
        it issued); with `{}`, the `exchange_refresh` cookie's session (and clear the cookie), or without a
        cookie, given a bearer access token, that token's session. `{"everywhere": true}` with a bearer
        access token ends every session of the account and every access token issued so far (logout
        everywhere). The access tokens presented (`access_token`, the bearer header) stop working at once,
        REST and WebSocket, in every API process. No body at all counts as `{}`."""
        svc = services(request)
        await svc.limiter.hit("logout_ip", client_ip(request), svc.settings.rate_limits.logout_ip)
        bearer = _bearer_or_none(request)
        if data.everywhere:
            account_id = await provide_account_id(request)
            await svc.sessions().end_all(account_id)
            await revocation.revoke_account(svc.redis, svc.tokens.revocations, account_id, time.time())
            await _end_access_tokens(svc, data.access_token)  # (another account's token, were it one)
            return Response(None, status_code=204)
        if data.refresh_token is not None:
            await _end_session_of(svc, svc.tokens.decode_refresh(data.refresh_token))
            await _end_access_tokens(svc, data.access_token, bearer)
            return Response(None, status_code=204)
        if await _end_cookie_session(svc, request):
            await _end_access_tokens(svc, data.access_token, bearer)
            return Response(None, status_code=204, cookies=[_refresh_cookie(request, None, 0)])
        if bearer is None and data.access_token is not None:  # no session to end but this token's
            access = svc.tokens.decode_access_claims(data.access_token)
            await revocation.revoke_token(svc.redis, svc.tokens.revocations, access)
            return Response(None, status_code=204)
        # a bearer access token alone: its own session, as a logout on this device means (a token of no
        # session, issued by tools, ends itself)
        access = await provide_access_claims(request)
        if access.sid:
            await svc.sessions().end(access.account_id, access.sid)
        await _end_access_tokens(svc, data.access_token, bearer)
        return Response(None, status_code=204)


async def _end_session_of(svc: Services, claims: RefreshClaims) -> None:
    """End the login session of a refresh token: its refresh tokens and every access token it issued."""
    await svc.sessions().end_of_token(claims.account_id, claims.jti)


async def _end_cookie_session(svc: Services, request: Request[Any, Any, Any]) -> bool:
    """End the session of the refresh cookie's token, if the request carries the cookie (checked
    `_same_site`); an expired or garbled one ends nothing. Whether there was a cookie."""
    cookie = _cookie_token(request, svc)
    if cookie is None:
        return False
    try:
        claims = svc.tokens.decode_refresh(cookie)
    except ApiError:  # expired or garbled: clearing it is all there is to do
        return True
    await _end_session_of(svc, claims)
    return True


def _bearer_or_none(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _end_access_tokens(svc: Services, *tokens: str | None) -> None:
    """Revoke each access token that still verifies (one that does not works nowhere already)."""
    for token in tokens:
        if token is None:
            continue
        try:
            claims = svc.tokens.decode_access_claims(token)
        except ApiError:
            continue
        await revocation.revoke_token(svc.redis, svc.tokens.revocations, claims)


class MeController(Controller):
    path = "/api/me"
    tags = ["auth"]
    dependencies = {"account_id": Provide(provide_account_id)}
    security = [{"bearer": []}]

    @get("/", operation_id="me", responses=errors(401))  # a cached read: not rate limited
    async def me(self, request: Request[Any, Any, Any], account_id: NamedDependency[int]) -> Account:
        """The authenticated account."""
        svc = services(request)
        row = await svc.accounts.get(svc.require_pool(), account_id)
        if row is None:
            raise ApiError(ErrorCode.INVALID_TOKEN, "account no longer exists")
        return Account(**row.as_api())


MAX_SESSIONS_LISTED = 100


class SessionsController(Controller):
    """An account's login sessions: each login is one (a device or browser), kept by its refresh token."""

    path = "/api/auth/sessions"
    tags = ["auth"]
    dependencies = {"access": Provide(provide_access_claims)}
    security = [{"bearer": []}]

    @get("/", operation_id="listSessions", responses=errors(401, 429))
    async def list_sessions(
        self, request: Request[Any, Any, Any], access: NamedDependency[AccessClaims]
    ) -> list[Session]:
        """The account's live sessions, most recently used first (at most 100): when each logged in and last
        refreshed its tokens, its browser's User-Agent and address at login, and which one is asking."""
        svc = services(request)
        await limit_read(request, access.account_id)
        rows = await svc.sessions().live(access.account_id, MAX_SESSIONS_LISTED)
        return [
            Session(
                id=row.id,
                created_at=_ms(row.created_at),
                last_used_at=_ms(row.last_used_at),
                user_agent=row.user_agent,
                ip=row.ip,
                current=row.id == access.sid,
            )
            for row in rows
        ]

    @delete("/{session_id:str}", operation_id="endSession", status_code=204, responses=errors(401, 404, 429))
    async def end_session(
        self,
        request: Request[Any, Any, Any],
        access: NamedDependency[AccessClaims],
        session_id: Annotated[str, PathParameter(pattern=SESSION_ID_PATTERN, max_length=64)],
    ) -> None:
        """Log one session out (another device, or this one): its refresh token stops working and its access
        tokens end at once, REST and WebSocket. 404 `NOT_FOUND` for a session that is not a live one of
        this account."""
        svc = services(request)
        await svc.limiter.hit("logout_ip", client_ip(request), svc.settings.rate_limits.logout_ip)
        if await svc.sessions().end(access.account_id, session_id) is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no such session")

    @delete("/", operation_id="endOtherSessions", status_code=200, responses=errors(401, 429))
    async def end_other_sessions(
        self, request: Request[Any, Any, Any], access: NamedDependency[AccessClaims]
    ) -> SessionsEnded:
        """Log out every other device: every session of the account but the asking token's own ends (its
        refresh and access tokens), in one step whatever their number. 401 `INVALID_TOKEN` for a token of
        no session (issued before sessions existed): log in again first."""
        svc = services(request)
        await svc.limiter.hit("logout_ip", client_ip(request), svc.settings.rate_limits.logout_ip)
        if not access.sid:
            raise ApiError(ErrorCode.INVALID_TOKEN, "this token belongs to no session: log in again")
        ended = await svc.sessions().end_others(access.account_id, access.sid)
        return SessionsEnded(account_id=access.account_id, sessions_ended=len(ended))


class PasswordController(Controller):
    """Changing the password of the account a token is for."""

    path = "/api/auth/password"
    tags = ["auth"]
    dependencies = {"access": Provide(provide_access_claims)}
    security = [{"bearer": []}]

    @post("/", operation_id="changePassword", status_code=200, responses=errors(401, 403, 422, 429))
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        access: NamedDependency[AccessClaims],
        data: JSONBody[PasswordChange],
    ) -> SessionsEnded:
        """Set a new password, given the current one: every other session of the account ends (its refresh
        and access tokens, REST and WebSocket); the asking one goes on. 403 `WRONG_PASSWORD` for a wrong
        current password (rate limited like a login: 429); 422 `WEAK_PASSWORD` for a new password
        registration would refuse, or one equal to the current; 401 `INVALID_TOKEN` for a token of no
        session (log in again first)."""
        svc = services(request)
        if not access.sid:
            raise ApiError(ErrorCode.INVALID_TOKEN, "this token belongs to no session: log in again")
        limits = svc.settings.rate_limits
        await svc.limiter.hit("password_account", str(access.account_id), limits.login_email)
        row = await accounts.account_by_id(svc.require_pool(), access.account_id)
        if row is None or not await verify_password(row.password_hash, data.current_password):
            raise ApiError(ErrorCode.WRONG_PASSWORD, "the current password is wrong")
        problem = password_problem(data.new_password, row.email)
        if problem is None and data.new_password == data.current_password:
            problem = "the new password is the current one: choose another"
        if problem:
            raise ApiError(ErrorCode.WEAK_PASSWORD, problem)
        new_hash = await hash_password(data.new_password)
        ended = await svc.sessions().change_password(
            access.account_id, row.password_hash, new_hash, access.sid
        )
        if ended is None:  # changed or reset since it was read: the current password given is no longer it
            raise ApiError(ErrorCode.WRONG_PASSWORD, "the current password is wrong")
        return SessionsEnded(account_id=access.account_id, sessions_ended=len(ended))


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
