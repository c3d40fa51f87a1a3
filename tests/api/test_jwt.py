"""api/jwt.py against tokens signed by `cryptography` (tests/api/tokens.py): every forgery refused,
and its RSA verification agreeing with cryptography's on random messages."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given
from hypothesis import strategies as st

from api import jwt
from tests.api.tokens import b64, edit_payload, id_claims, jwk_of, new_key, sign

ISSUER = "https://login.example.com/"
AUD = "page-client"
KEY = new_key()
OTHER = new_key()
JWKS = {"keys": [jwk_of(KEY, "k1"), {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}]}
KEYS = jwt.parse_jwks(JWKS)


def good(**extra):
    return sign(id_claims(ISSUER, AUD, **extra), KEY, "k1")


def test_a_good_token_gives_its_claims():
    claims = jwt.verify(good(), KEYS, ISSUER, [AUD, "another"])
    assert claims["custom:customer_id"] == "17850" and claims["aud"] == AUD


@pytest.mark.parametrize("token, why", [
    (sign(id_claims(ISSUER, AUD), OTHER, "k1"), "bad signature"),                    # another key, same kid
    (sign(id_claims(ISSUER, AUD), OTHER, "k9"), "unknown signing key"),
    (sign(id_claims(ISSUER, AUD), KEY, "k1", alg="none"), "algorithm 'none'"),
    (sign(id_claims(ISSUER, AUD), KEY, "k1", alg="HS256"), "algorithm 'HS256'"),
    (edit_payload(good(), **{"custom:customer_id": "12346"}), "bad signature"),     # tampered payload
    (sign(id_claims(ISSUER, AUD, ttl=-1), KEY, "k1"), "expired"),
    (sign(id_claims(ISSUER, "someone-else"), KEY, "k1"), "wrong audience"),
    (sign(id_claims("https://evil.example.com/", AUD), KEY, "k1"), "wrong issuer"),
    (sign({k: v for k, v in id_claims(ISSUER, AUD).items() if k != "exp"}, KEY, "k1"), "no expiry"),
    (sign(id_claims(ISSUER, AUD, ttl=30 * 86400, nbf=time.time() + 10 * 86400), KEY, "k1"), "not valid yet"),
    (sign(id_claims(ISSUER, AUD), KEY, "k1", header={"crit": ["exp"]}), "critical"),
    ("abc.def", "three dot-separated parts"),
    ("a.b.c.d", "three dot-separated parts"),
    ("", "no token"),
    ("!!!.e30.", "not base64url"),
    (b64(b"[1]") + ".e30.", "not a JSON object"),
    (good()[:-4] + "AAAA", "bad signature"),
    (good() + "A", "bad signature"),                                               # trailing bytes
    (good() + "AAA", "not base64url"),
])
def test_forgeries_are_refused_with_the_reason(token, why):
    with pytest.raises(jwt.TokenError, match=why):
        jwt.verify(token, KEYS, ISSUER, [AUD])


def test_access_tokens_name_their_client_in_client_id():
    claims = {k: v for k, v in id_claims(ISSUER, AUD).items() if k != "aud"}
    access = sign({**claims, "token_use": "access", "client_id": AUD}, KEY, "k1")
    assert jwt.verify(access, KEYS, ISSUER, [AUD])["client_id"] == AUD
    with pytest.raises(jwt.TokenError, match="wrong audience"):
        jwt.verify(access, KEYS, ISSUER, ["other"])


def test_no_audiences_configured_refuses_everything():
    with pytest.raises(jwt.TokenError, match="wrong audience"):
        jwt.verify(good(), KEYS, ISSUER, [])


def test_key_sets_keep_only_usable_rsa_signing_keys():
    small = new_key(1024)
    enc = {**jwk_of(OTHER, "enc"), "use": "enc"}
    keys = jwt.parse_jwks({"keys": [jwk_of(small, "small"), enc, jwk_of(KEY, "k1"), "junk", {"kty": "RSA"}]})
    assert [k.kid for k in keys] == ["k1"]
    for doc in ({"keys": []}, {}, [], {"keys": [jwk_of(small, "small")]}):
        with pytest.raises(jwt.TokenError, match="no usable"):
            jwt.parse_jwks(doc)


@given(st.binary(max_size=300), st.booleans())
def test_rsa_verification_agrees_with_cryptography(message, corrupt):
    signature = KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())
    if corrupt:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    try:
        KEY.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        expected = True
    except InvalidSignature:
        expected = False
    assert jwt.rsa_sha256_valid(KEYS[0], message, signature) is expected is (not corrupt)


class _JwksServer:
    """A key set on 127.0.0.1 that counts its fetches; `.doc` may be changed (key rotation)."""

    def __init__(self, doc):
        self.doc, self.fetches = doc, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                data = json.dumps(outer.doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"


def test_key_set_is_fetched_once_and_again_for_a_new_kid_at_most_every_min_refresh():
    served = _JwksServer({"keys": [jwk_of(KEY, "k1")]})
    try:
        keys = jwt.KeySet(served.url, min_refresh=3600)
        for _ in range(3):
            assert keys.verify(good(), ISSUER, [AUD])["aud"] == AUD
        assert served.fetches == 1
        rotated = sign(id_claims(ISSUER, AUD), OTHER, "k2")
        served.doc = {"keys": [jwk_of(KEY, "k1"), jwk_of(OTHER, "k2")]}
        with pytest.raises(jwt.TokenError, match="unknown signing key"):
            keys.verify(rotated, ISSUER, [AUD])                   # too soon to fetch again
        assert served.fetches == 1
        fresh = jwt.KeySet(served.url, min_refresh=0)
        assert fresh.verify(good(), ISSUER, [AUD]) and fresh.verify(rotated, ISSUER, [AUD])
        assert served.fetches == 2
        for _ in range(3):                                        # an unknown kid cannot make it fetch at will
            with pytest.raises(jwt.TokenError):
                keys.verify(sign(id_claims(ISSUER, AUD), OTHER, "k3"), ISSUER, [AUD])
        assert served.fetches == 2
    finally:
        served.server.shutdown()


def test_keys_are_fetched_over_https_only_except_from_this_machine():
    for url in ("http://login.example.com/jwks.json", "ftp://x/jwks", "file:///etc/passwd"):
        with pytest.raises(jwt.TokenError, match="HTTPS only"):
            jwt.fetch_json(url)


def test_discovery_reads_jwks_uri_and_checks_the_issuer():
    docs = {ISSUER.rstrip("/") + "/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": "https://k"}}
    assert jwt.discover_jwks_url(ISSUER, docs.__getitem__) == "https://k"
    wrong = {k: {**v, "issuer": "https://other/"} for k, v in docs.items()}
    with pytest.raises(jwt.TokenError, match="does not match"):
        jwt.discover_jwks_url(ISSUER, wrong.__getitem__)
