"""JWT negative corpus: every malformed, forged or expired token is refused with 401."""

from __future__ import annotations

import base64
import functools
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import JWT_SECRET, User, error_code


def _claims(account_id: int, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(account_id),
        "typ": "access",
        "iss": "exchange",
        "aud": "exchange-api",
        "iat": now,
        "exp": now + 300,
        "jti": "test",
    }
    claims.update(overrides)
    return claims


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _corpus(user: User) -> dict[str, str]:
    good = jwt.encode(_claims(user.id), JWT_SECRET, algorithm="HS256")
    header, payload, signature = good.split(".")
    tampered_payload = _b64(_claims(user.id + 1000))
    rsa_key = _rsa_key()
    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user.id))}.",
        "wrong_key": jwt.encode(
            _claims(user.id), "another-secret-0123456789abcdef0123456789", algorithm="HS256"
        ),
        "expired": jwt.encode(
            _claims(user.id, iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
            JWT_SECRET,
            algorithm="HS256",
        ),
        "wrong_audience": jwt.encode(_claims(user.id, aud="someone-else"), JWT_SECRET, algorithm="HS256"),
        "wrong_issuer": jwt.encode(_claims(user.id, iss="evil"), JWT_SECRET, algorithm="HS256"),
        "tampered_payload": f"{header}.{tampered_payload}.{signature}",
        "hs512": jwt.encode(_claims(user.id), JWT_SECRET, algorithm="HS512"),
        "rs256": jwt.encode(_claims(user.id), rsa_key, algorithm="RS256"),
        "no_exp": jwt.encode(
            {k: v for k, v in _claims(user.id).items() if k != "exp"}, JWT_SECRET, algorithm="HS256"
        ),
        "numeric_sub": jwt.api_jws.encode(
            json.dumps(_claims(user.id, sub=user.id)).encode(), JWT_SECRET, algorithm="HS256"
        ),
        "refresh_typ": jwt.encode(_claims(user.id, typ="refresh"), JWT_SECRET, algorithm="HS256"),
        "garbage": "not.a.jwt",
        "empty_signature": f"{header}.{payload}.",
    }


CASES = [
    "alg_none",
    "wrong_key",
    "expired",
    "wrong_audience",
    "wrong_issuer",
    "tampered_payload",
    "hs512",
    "rs256",
    "no_exp",
    "numeric_sub",
    "refresh_typ",
    "garbage",
    "empty_signature",
]


@pytest.mark.parametrize("case", CASES)
async def test_forged_or_invalid_token_is_401(
    client: AsyncTestClient[Litestar], alice: User, case: str
) -> None:
    """Each token of the negative corpus is refused with 401 INVALID_TOKEN on /api/me and /api/balances."""
    token = _corpus(alice)[case]
    for path in ("/api/me", "/api/balances"):
        r = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (case, path, r.text)
        assert error_code(r) == "INVALID_TOKEN"


async def test_the_untampered_reference_token_is_accepted(
    client: AsyncTestClient[Litestar], alice: User
) -> None:
    """The corpus' base token (correct key, claims, HS256) works, so the negatives fail for their flaw."""
    good = jwt.encode(_claims(alice.id), JWT_SECRET, algorithm="HS256")
    r = await client.get("/api/me", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200 and r.json()["id"] == alice.id


async def test_non_bearer_authorization_is_401(client: AsyncTestClient[Litestar], alice: User) -> None:
    """Basic auth or a bare token without the Bearer scheme is 401 UNAUTHORIZED."""
    for value in (f"Basic {alice.access_token}", alice.access_token, "Bearer "):
        r = await client.get("/api/me", headers={"Authorization": value})
        assert r.status_code == 401


def test_a_cached_access_token_still_expires() -> None:
    """A token verified once (and remembered) is refused once its exp has passed."""
    from exchange.api.auth import TokenService
    from exchange.api.errors import ApiError
    from exchange.api.settings import Settings

    settings = Settings(jwt_secret=JWT_SECRET, access_ttl_s=600)
    # exp counts from the whole second (rounded down): this token expires 1 to 2 s from now, never at once
    issuer = TokenService(settings, clock=lambda: time.time() - 598)
    verifier = TokenService(settings)
    token = issuer.issue_access(7)
    assert verifier.decode_access(token) == 7
    assert verifier.decode_access(token) == 7  # served from the cache
    time.sleep(2.2)
    with pytest.raises(ApiError) as info:
        verifier.decode_access(token)
    assert info.value.code == "INVALID_TOKEN"
