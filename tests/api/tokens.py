"""JWTs made for the tests with `cryptography`, independently of api/jwt.py: good ones, and the
forgeries the storefront must refuse (another key, `alg: none`, HS256 keyed with the public key,
an edited payload, expired, another audience or issuer). `moto_key()` is the private key moto's
Cognito signs with (public in the moto package): a token it signs is as good as a real one here."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def moto_key() -> tuple[rsa.RSAPrivateKey, str]:
    """(private key, kid) of moto's Cognito user pools."""
    from moto.utilities.utils import load_resource

    jwk = load_resource("cognitoidp/resources/jwks-private.json")
    n, e, d = _int(jwk["n"]), _int(jwk["e"]), _int(jwk["d"])
    p, q = rsa.rsa_recover_prime_factors(n, e, d)          # the file holds n, e and d only
    private = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
                                    rsa.RSAPublicNumbers(e, n))
    return private.private_key(), jwk.get("kid", "dummy")


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64(numbers.n.to_bytes(size, "big")),
            "e": b64(numbers.e.to_bytes(3, "big"))}


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str = "test-key", alg: str = "RS256",
         header: dict[str, Any] | None = None) -> str:
    head = {"alg": alg, "kid": kid, "typ": "JWT", **(header or {})}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}"
    if alg == "RS256":
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":     # the classic confusion: the *public* key's PEM as the HMAC secret
        secret = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    elif alg == "none":
        signature = b""
    else:
        raise ValueError(alg)
    return f"{signing_input}.{b64(signature)}"


def id_claims(issuer: str, audience: str, customer_id: str | None = "17850", ttl: float = 3600,
              **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    out = {"iss": issuer, "aud": audience, "sub": "c0ffee00-0000-4000-8000-000000000001", "token_use": "id",
           "iat": now, "auth_time": now, "exp": now + int(ttl), "email": "someone@example.com"}
    if customer_id is not None:
        out["custom:customer_id"] = customer_id
    out.update(extra)
    return out


def edit_payload(token: str, **changes: Any) -> str:
    """The same header and signature over an edited payload (a tampered token)."""
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
