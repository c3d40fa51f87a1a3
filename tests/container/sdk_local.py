"""Helpers for test_sdk_local.py: the SageMaker Python SDK v2 in local mode against the real image.

Nothing here talks to AWS. `AwsTrap` is a local HTTP endpoint that the test process points every
AWS SDK call (AWS_ENDPOINT_URL) and every proxied HTTP(S) request (HTTPS_PROXY, e.g. the SDK's
telemetry GET to S3) at: it records each one and refuses it, so a test can assert that local mode
made no such call at all.

Containers started through the SDK carry the label `LABEL_KEY=RUN_ID` (set with the local-mode
`container_config`), so this run's containers are found, their logs read and removed without
touching anyone else's.
"""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import tarfile
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RUN_ID = uuid.uuid4().hex[:8]
LABEL_KEY = "alsreco.test.sdk-local"
LABEL = f"{LABEL_KEY}={RUN_ID}"
NAME_PREFIX = f"alsreco-sdk-{RUN_ID}"  # base_job_name, endpoint and model names
ROLE = "arn:aws:iam::123456789012:role/alsreco-sdk-local-test"  # dummy; an ARN is never looked up
REGION = "us-east-1"
PIN = "2.257.7"  # sagemaker>=2.200,<3 (pip install "sagemaker==2.257.7")

MODEL_FILES = {
    "user_factors.npy", "item_factors.npy", "customer_ids.npy", "product_ids.npy", "product_names.npy",
    "purchases.npz", "product_popularity.npy", "product_first_seen.npy", "customer_first_seen.npy",
    "new_products.npy", "new_customers.npy", "metadata.json",
}
INVOCATION = re.compile(r"POST /invocations (\d{3}) [0-9.]+ms customers=(\d+)")


class AwsTrap:
    """Records every request that reaches it (AWS API calls, proxied HTTP(S)) and refuses it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                target = self.headers.get("X-Amz-Target") or ""
                auth = self.headers.get("Authorization") or ""
                scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
                trap.calls.append(" ".join(x for x in (self.command, self.headers.get("Host") or "", self.path,
                                                        target, scope.group(1) if scope else "") if x))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                # An AWS-style AccessDenied (JSON for JSON protocols, else XML): botocore raises a
                # ClientError at once instead of retrying a response it cannot parse.
                message = "alsreco sdk-local test: no AWS or internet access from this test"
                if "json" in (self.headers.get("Content-Type") or ""):
                    ctype, body = "application/x-amz-json-1.1", json.dumps(
                        {"__type": "AccessDeniedException", "message": message}).encode()
                else:
                    ctype, body = "text/xml", (f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                                               f"<Message>{message}</Message></Error></ErrorResponse>").encode()
                self.send_response(403)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = do_CONNECT = _refuse

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "AwsTrap":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def sdk_env(trap: AwsTrap, config_file: Path, home: Path) -> dict[str, str | None]:
    """Environment of the test process (monkeypatch.setenv; None = delenv): dummy credentials and
    region, no credential/config files, no instance metadata, every AWS endpoint and HTTP(S) proxy
    = the trap, the SDK's defaults config = `config_file` (TelemetryOptOut)."""
    return {
        "AWS_ACCESS_KEY_ID": "AKIAALSRECOTESTONLY0",
        "AWS_SECRET_ACCESS_KEY": "alsreco-sdk-local-test-dummy-secret",
        "AWS_SESSION_TOKEN": None,
        "AWS_SECURITY_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config-absent"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials-absent"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": trap.url,
        "HTTP_PROXY": trap.url, "HTTPS_PROXY": trap.url, "http_proxy": trap.url, "https_proxy": trap.url,
        "ALL_PROXY": None, "all_proxy": None,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        # The SDK's documented defaults-config locations (admin and user), both our file.
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(config_file),
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config_file),
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }


SDK_CONFIG_YAML = """\
# Written by tests/container/test_sdk_local.py; found through SAGEMAKER_USER_CONFIG_OVERRIDE.
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def compose_problem() -> tuple[list[str] | None, str | None]:
    """The compose command the installed SDK will use (its own lookup), or why there is none."""
    from sagemaker.local.image import _SageMakerContainer

    try:
        cmd = list(_SageMakerContainer._get_compose_cmd_prefix())
    except ImportError as exc:
        return None, f"the SageMaker SDK's local mode needs docker compose ({exc})"
    r = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, f"`{' '.join(cmd)} version` failed: {(r.stderr or r.stdout).strip()[-300:]}"
    return cmd, None



# --- this run's containers -------------------------------------------------------------------

@dataclass
class Container:
    name: str
    status: str  # created / running / exited / ...
    exit_code: int
    hostname: str
    env: dict[str, str]
    logs: str

    def invocations(self) -> list[tuple[int, int]]:
        """(status, customers) of each POST /invocations the container logged, in order."""
        return [(int(s), int(n)) for s, n in INVOCATION.findall(self.logs)]


def containers() -> list[Container]:
    ids = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label={LABEL}"],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    if not ids:
        return []
    out = []
    for d in json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                                       timeout=60).stdout or "[]"):
        logs = subprocess.run(["docker", "logs", d["Id"]], capture_output=True, text=True, errors="replace",
                              timeout=60)
        env = dict(e.split("=", 1) for e in d["Config"]["Env"] or [] if "=" in e)
        out.append(Container(d["Name"].lstrip("/"), d["State"]["Status"], d["State"]["ExitCode"],
                             d["Config"]["Hostname"], env, logs.stdout + logs.stderr))
    return out


def settle() -> list[Container]:
    """This run's containers as the SDK left them (state + logs), then removed."""
    found = containers()
    if found:
        subprocess.run(["docker", "rm", "-f", *[c.name for c in found]], capture_output=True, timeout=120)
    return found


# --- artifacts and batch transform output --------------------------------------------------------

def tar_members(path: Path) -> dict[str, bytes]:
    """Regular files of a .tar.gz by name (leading ./ stripped)."""
    with tarfile.open(path) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def load_model_arrays(members: dict[str, bytes]) -> dict[str, object]:
    import numpy as np

    return {name[:-4]: np.load(io.BytesIO(data), allow_pickle=False)
            for name, data in members.items() if name.endswith(".npy")}


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def out_lines(path: Path) -> list[str]:
    """The lines of a batch transform `.out` file assembled with AssembleWith=Line: every line ends
    with exactly one newline and none is blank."""
    data = path.read_bytes()
    assert data, f"{path} is empty"
    assert data.endswith(b"\n"), f"{path} does not end with a newline: ...{data[-200:]!r}"
    lines = data[:-1].decode("utf-8").split("\n")
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    assert not blank, (f"{path}: {len(blank)} blank line(s), first at line(s) {blank[:5]} of {len(lines)}: "
                       "a response ended with a newline and AssembleWith=Line added another")
    return lines


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
