"""Verify an RS256-signed JWT against a JSON Web Key Set: the checks API Gateway's Cognito
authorizer makes, for the OIDC authorizer (api/authorizer.py) and the local API front.

Standard library only (it runs in a Lambda with no dependencies). What is checked, in order:
three base64url parts; a JSON header whose `alg` is exactly RS256 (`none`, HS256 - the
"public key as HMAC secret" confusion - and every other algorithm are refused) and no `crit`;
the key named by `kid` in the key set (RSA, at least 2048 bits); the RSASSA-PKCS1-v1_5 SHA-256
signature, by comparing the whole encoded message block, never by parsing it; then the claims:
`iss` equal to the issuer, `aud` (or an access token's `client_id`) among the audiences, `exp`
in the future, `nbf` (when present) in the past. Every failure is a TokenError saying which.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

ALGORITHM = "RS256"
MIN_KEY_BITS = 2048
MAX_TOKEN_CHARS = 16384
MAX_JWKS_BYTES = 1 << 20
# DER prefix of DigestInfo for SHA-256 (RFC 8017, section 9.2, note 1)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenError(ValueError):
    """The token is not acceptable; the message says why (for logs; callers answer 401)."""


@dataclass(frozen=True)
class RsaKey:
    kid: str | None
    n: int
    e: int


def b64url_decode(part: str) -> bytes:
    if not isinstance(part, str) or not _B64URL.match(part) or len(part) % 4 == 1:
        raise TokenError("not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("not base64url") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TokenError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"the {what} is not a JSON object")
    return value


def parse_jwks(doc: Mapping[str, Any]) -> list[RsaKey]:
    """The RSA signing keys of a JWKS document (others are skipped); TokenError if none."""
    keys = []
    listed = doc.get("keys") if isinstance(doc, Mapping) else None
    for jwk in listed if isinstance(listed, list) else []:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use") not in (None, "sig") or jwk.get("alg") not in (None, ALGORITHM):
            continue
        try:
            n = int.from_bytes(b64url_decode(str(jwk["n"])), "big")
            e = int.from_bytes(b64url_decode(str(jwk["e"])), "big")
        except (KeyError, TokenError):
            continue
        if n.bit_length() >= MIN_KEY_BITS and e >= 3 and e % 2 == 1:
            keys.append(RsaKey(None if jwk.get("kid") is None else str(jwk["kid"]), n, e))
    if not keys:
        raise TokenError("the key set holds no usable RSA signing key")
    return keys


def rsa_sha256_valid(key: RsaKey, message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 8.2.2): re-encode and compare."""
    size = (key.n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    block = pow(s, key.e, key.n).to_bytes(size, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(block, expected)


def header_of(token: str) -> dict[str, Any]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise TokenError("not a JWT (three dot-separated parts)")
    return _json_object(b64url_decode(parts[0]), "header")


def verify(token: str, keys: Iterable[RsaKey], issuer: str, audiences: Iterable[str],
           now: float | None = None) -> dict[str, Any]:
    """The token's claims, once every check above passed; TokenError otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise TokenError("no token, or one too long")
    header = header_of(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algorithm {str(header.get('alg'))[:20]!r} is not accepted (only {ALGORITHM})")
    if "crit" in header:
        raise TokenError("critical header extensions are not supported")
    keys = list(keys)
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.kid == str(kid)]
    elif len(keys) != 1:
        raise TokenError("the token names no key (kid) and the key set holds several")
    if not keys:
        raise TokenError("unknown signing key (kid)")
    head, body, sig = token.split(".")
    signature = b64url_decode(sig)
    if not any(rsa_sha256_valid(k, f"{head}.{body}".encode("ascii"), signature) for k in keys):
        raise TokenError("bad signature")
    claims = _json_object(b64url_decode(body), "payload")
    check_claims(claims, issuer, audiences, time.time() if now is None else now)
    return claims


def audience_of(claims: Mapping[str, Any]) -> list[str]:
    """`aud` (a string or a list); a Cognito access token carries `client_id` instead."""
    aud = claims.get("aud")
    if aud is None and claims.get("token_use") == "access":
        aud = claims.get("client_id")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [str(a) for a in aud]
    return []


def check_claims(claims: Mapping[str, Any], issuer: str, audiences: Iterable[str], now: float) -> None:
    if not issuer or claims.get("iss") != issuer:
        raise TokenError("wrong issuer")
    wanted = set(audiences)
    if not wanted or not wanted.intersection(audience_of(claims)):
        raise TokenError("wrong audience")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise TokenError("no expiry (exp)")
    if now >= exp:
        raise TokenError("expired")
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, (int, float)) or now < nbf):
        raise TokenError("not valid yet (nbf)")


def fetch_json(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """GET a JSON object over HTTPS (plain HTTP only to this machine: the local front's tests)."""
    if not (url.startswith("https://") or re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost)(:\d+)?/", url)):
        raise TokenError(f"refusing to fetch keys from {url[:100]!r}: HTTPS only")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if url.startswith("http://") \
        else urllib.request.build_opener()
    try:
        with opener.open(url, timeout=timeout) as resp:
            raw = resp.read(MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise TokenError(f"could not fetch {url[:100]}: {exc}") from None
    if len(raw) > MAX_JWKS_BYTES:
        raise TokenError(f"{url[:100]} is larger than {MAX_JWKS_BYTES} bytes")
    return _json_object(raw, url[:100])


def discover_jwks_url(issuer: str, fetch: Callable[[str], dict] = fetch_json) -> str:
    """`jwks_uri` of the issuer's OpenID configuration (which must name the same issuer)."""
    config = fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if config.get("issuer") != issuer or not isinstance(config.get("jwks_uri"), str):
        raise TokenError("the OpenID configuration does not match the issuer or names no jwks_uri")
    return config["jwks_uri"]


class KeySet:
    """A JWKS fetched on first use and again (at most every `min_refresh` s) when a token names a
    key it does not hold, so a key rotation needs no restart."""

    def __init__(self, url: str | Callable[[], str], fetch: Callable[[str], dict] = fetch_json,
                 min_refresh: float = 60.0):
        self._url = url
        self._fetch = fetch
        self._min_refresh = min_refresh
        self._keys: list[RsaKey] = []
        self._fetched = float("-inf")
        self._lock = threading.Lock()

    def keys_for(self, token: str) -> list[RsaKey]:
        kid = header_of(token).get("kid")
        with self._lock:
            known = any(k.kid == kid for k in self._keys) if kid is not None else bool(self._keys)
            if not known and time.monotonic() - self._fetched >= self._min_refresh:
                url = self._url() if callable(self._url) else self._url
                self._fetched = time.monotonic()
                self._keys = parse_jwks(self._fetch(url))
            return list(self._keys)

    def verify(self, token: str, issuer: str, audiences: Iterable[str]) -> dict[str, Any]:
        return verify(token, self.keys_for(token), issuer, audiences)
