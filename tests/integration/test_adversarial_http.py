"""Adversarial corpus through the real nginx -> gunicorn -> Flask stack (one server for the module's
requests, shared with the session): HTTP framing the test client cannot send (chunked bodies, wrong
Content-Length, HTTP/1.0, Expect, pipelining), methods, long URIs and headers, path traversal, and a
sample of the in-process corpus (tests/unit/test_adversarial_requests.py) to show nginx and gunicorn
change nothing. Every error is JSON; /ping stays fast throughout."""
from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from tests.unit.conftest import VERSION, write_synthetic
from tests.unit.test_adversarial_requests import CORPUS, assert_outcome

pytestmark = pytest.mark.integration
BODY = b'{"customer_id": "17850", "k": 2}'


def raw(port: int, request: bytes, timeout: float = 10, half_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
    return out


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw bytes into (status, headers, body) by Content-Length / chunked framing."""
    out = []
    while data:
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, data = data.split(b"\r\n", 1)
                size = int(size_line, 16)
                body, data = body + data[:size], data[size + 2:]
                if size == 0:
                    break
        else:
            n = int(headers.get("content-length", len(data)))
            body, data = data[:n], data[n:]
        out.append((status, headers, body))
    return out


def post(path: str, body: bytes, extra: str = "", version: str = "HTTP/1.1") -> bytes:
    return (f"POST {path} {version}\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def json_error(status: int, headers: dict, body: bytes, want: int) -> dict:
    assert status == want, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    doc = json.loads(body)
    assert doc["status"] == want and doc["error"], doc
    return doc


@pytest.fixture(scope="module")
def srv(synthetic_server):
    yield synthetic_server
    # whatever the corpus did, the server still answers /ping at once
    start = time.monotonic()
    assert requests.get(synthetic_server.url + "/ping", timeout=5).status_code == 200
    assert time.monotonic() - start < 2.0
    assert synthetic_server.proc.poll() is None


# --------------------------------------------------------------------------- HTTP framing
def test_chunked_body_is_answered(srv):
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (BODY[:5], BODY[5:])) + b"0\r\n\r\n"
    req = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    [(status, headers, body)] = responses(raw(srv.port, req))
    assert status == 200 and json.loads(body)["predictions"][0]["customer_id"] == "17850"
    assert headers["x-model-version"] == VERSION


def test_chunked_body_with_bad_chunk_size_is_a_json_400(srv):
    req = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
           b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + BODY + b"\r\n0\r\n\r\n")
    [(status, headers, body)] = responses(raw(srv.port, req))
    json_error(status, headers, body, 400)


def test_content_length_shorter_than_the_body(srv):
    """nginx reads Content-Length bytes: the app sees a cut JSON document (400 naming it); the rest of
    the bytes are a garbage next request, which nginx refuses as JSON too."""
    req = post("/invocations", BODY).replace(b"Content-Length: %d" % len(BODY), b"Content-Length: 10")
    got = responses(raw(srv.port, req.replace(b"Connection: close\r\n", b"")))
    assert "not valid JSON" in json_error(*got[0], 400)["error"]
    assert got[0][1]["x-model-version"] == VERSION
    for status, headers, body in got[1:]:
        json_error(status, headers, body, 400)


def test_content_length_longer_than_the_body_then_eof(srv):
    req = post("/invocations", BODY).replace(b"Content-Length: %d" % len(BODY), b"Content-Length: 500")
    out = raw(srv.port, req, half_close=True)
    if out:  # nginx answers 400 to a body cut by EOF (or just closes): never a 5xx
        json_error(*responses(out)[0], 400)


def test_content_length_not_a_number(srv):
    req = post("/invocations", BODY).replace(b"Content-Length: %d" % len(BODY), b"Content-Length: ten")
    json_error(*responses(raw(srv.port, req))[0], 400)


def test_two_content_lengths(srv):
    req = post("/invocations", BODY).replace(b"Content-Length:", b"Content-Length: 3\r\nContent-Length:")
    json_error(*responses(raw(srv.port, req))[0], 400)


def test_http_1_0(srv):
    [(status, headers, body)] = responses(raw(srv.port, post("/invocations", BODY, version="HTTP/1.0")))
    assert status == 200 and json.loads(body)["model_version"] == VERSION


def test_expect_100_continue(srv):
    out = raw(srv.port, post("/invocations", BODY, extra="Expect: 100-continue\r\n"))
    out = out.split(b"\r\n\r\n", 1)[1] if out.startswith(b"HTTP/1.1 100") else out
    [(status, _, body)] = responses(out)
    assert status == 200 and b"17850" in body


def test_pipelined_requests_are_answered_in_order(srv):
    one = post("/invocations", b'"17850"').replace(b"Connection: close\r\n", b"")
    two = post("/invocations", b'"16098"')
    got = responses(raw(srv.port, one + two))
    assert [json.loads(b)["predictions"][0]["customer_id"] for _, _, b in got] == ["17850", "16098"]


def test_empty_body_with_content_length_0(srv):
    json_error(*responses(raw(srv.port, post("/invocations", b"")))[0], 400)


# --------------------------------------------------------------------------- methods, URIs, headers
@pytest.mark.parametrize("method, path, want", [
    ("PUT", "/invocations", 405), ("DELETE", "/invocations", 405), ("PATCH", "/ping", 405),
    ("GET", "/invocations", 405), ("POST", "/ping", 405), ("GET", "/nope", 404),
])
def test_wrong_methods_and_paths_are_json(srv, method, path, want):
    resp = requests.request(method, srv.url + path, data=BODY, headers={"Content-Type": "application/json"}, timeout=5)
    assert resp.status_code == want and resp.json()["status"] == want


def test_head_and_options(srv):
    head = requests.head(srv.url + "/ping", timeout=5)
    assert head.status_code == 200 and not head.content
    options = requests.options(srv.url + "/invocations", timeout=5)
    assert options.status_code == 200 and "POST" in options.headers["Allow"]


@pytest.mark.parametrize("path, want", [
    ("/endpoints/../invocations", 200),
    ("/endpoints/%2e%2e/invocations", 200),  # the endpoint name is "..": unused, harmless
    ("/endpoints/x/../../invocations", 404),  # nginx passes the URI as sent; the app matches no route
    ("/endpoints/..%2f..%2fetc%2fpasswd/invocations", 400),  # nginx: traversal above the root
    ("/../../../etc/passwd", 400),
    ("/endpoints/a%00b/invocations", 400),  # nginx refuses an encoded NUL
])
def test_path_traversal(srv, path, want):
    out = raw(srv.port, post(path, BODY))
    [(status, headers, body)] = responses(out)
    if want == 200:
        assert status == 200 and json.loads(body)["predictions"][0]["customer_id"] == "17850"
    else:
        json_error(status, headers, body, want)
    assert b"root:" not in body


def test_uri_beyond_nginx_limit_is_a_json_414(srv):
    json_error(*responses(raw(srv.port, post("/invocations?" + "a" * 20_000, BODY)))[0], 414)


@pytest.mark.parametrize("what", ["query-8k", "header-9k", "150-headers"])
def test_requests_nginx_accepts_are_answered_by_the_app(srv, what):
    headers = {"Content-Type": "application/json"}
    url = srv.url + "/invocations"
    if what == "query-8k":
        url += "?" + "a=1&" * 2000
    elif what == "header-9k":
        headers["X-Long"] = "v" * 9000
    else:
        headers.update({f"X-H{i}": "v" for i in range(150)})
    resp = requests.post(url, data=BODY, headers=headers, timeout=5)
    assert resp.headers["Content-Type"].startswith("application/json"), resp.text[:200]
    assert resp.status_code == 200


def test_many_and_huge_headers(srv):
    many = "".join(f"X-H{i}: {'v' * 50}\r\n" for i in range(1000))
    status, headers, body = responses(raw(srv.port, post("/invocations", BODY, extra=many)))[0]
    assert status in (400, 431) and json.loads(body)["status"] in (400, 431)
    huge = f"X-Big: {'b' * 40_000}\r\n"
    status, headers, body = responses(raw(srv.port, post("/invocations", BODY, extra=huge)))[0]
    assert status in (400, 431) and json.loads(body)["error"]


def test_body_over_the_limit_is_refused_by_nginx_as_json(srv):
    resp = requests.post(srv.url + "/invocations", data=b" " * (7 * 1024 * 1024),
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 413 and "6 MB" in resp.json()["error"]


# --------------------------------------------------------------------------- the in-process corpus, sampled
SAMPLE = [c for c in CORPUS if c.method == "POST" and c.path == "/invocations" and (
    c.id.startswith(("enc-", "json-duplicate", "json-id-", "csv-", "jsonl-", "ctype-", "accept-", "empty-"))
    or c.id in ("work-deep-array-1e5", "work-10001-csv-rows", "work-10000-customers-x-k1000"))]


@pytest.mark.parametrize("case", SAMPLE, ids=[c.id for c in SAMPLE])
def test_corpus_case_through_nginx(srv, case):
    headers, body = case.request()
    resp = requests.post(srv.url + case.path, data=body, headers=headers, timeout=30)
    assert_outcome(case, resp.status_code, resp.headers, resp.content.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- a corrupt model behind nginx
def test_a_model_with_nan_factors_is_a_503_naming_the_file(serve_factory, tmp_path):
    import numpy as np

    srv = serve_factory()
    model = write_synthetic(srv.base / "model")
    factors = np.load(model / "item_factors.npy")
    factors[3, 1] = np.nan
    np.save(model / "item_factors.npy", factors)
    ping = srv.wait_ready()
    assert ping.status_code == 503 and "item_factors.npy" in ping.json()["error"], ping.text
    resp = srv.post({"customer_id": "17850"})
    assert resp.status_code == 503 and "item_factors.npy" in resp.json()["error"]
    assert srv.proc.poll() is None
