"""build_and_push.sh end to end: moto_server answers the AWS calls, a real registry receives the push.

- moto_server (moto[server], in the venv) on 127.0.0.1 plays STS and ECR: the real `aws` CLI
  reaches it through AWS_ENDPOINT_URL with dummy credentials.
- Debian's docker-registry runs as a plain process (temp config and storage, free port);
  dockerd allows plain HTTP to 127.0.0.1 registries by default.
- REGISTRY=127.0.0.1:<port> sends the push there; docker login with moto's ECR password is
  accepted by a registry without auth.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from alsreco.core.net import free_port, wait_for_http

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _need(what: str, path: str | None) -> str:
    if path is None:
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true and {what} is not installed", pytrace=False)
        pytest.skip(f"{what} is not installed")
    return path


def _wait_http(url: str, proc: subprocess.Popen, log: Path, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{url}: process exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        if wait_for_http(url, 0.5, ok=range(100, 600)):  # any HTTP answer: the server is up
            return
    pytest.fail(f"{url} did not answer within {deadline}s:\n{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def moto(tmp_path):
    exe = _need("moto_server (pip install 'moto[server]')",
                str(VENV_BIN / "moto_server") if (VENV_BIN / "moto_server").exists() else shutil.which("moto_server"))
    port = free_port()
    log = tmp_path / "moto.log"
    with log.open("w") as out:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/moto-api/", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture
def registry(tmp_path):
    exe = _need("docker-registry (apt-get install docker-registry)",
                shutil.which("docker-registry") or ("/usr/bin/docker-registry"
                                                    if os.access("/usr/bin/docker-registry", os.X_OK) else None))
    port = free_port()
    storage = tmp_path / "registry-data"
    storage.mkdir()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = tmp_path / "registry.log"
    with log.open("w") as out:
        proc = subprocess.Popen([exe, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/v2/", proc, log)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


def test_build_and_push_creates_the_ecr_repository_and_pushes_both_tags(image, moto, registry, tmp_path):
    # `image` builds first, so the script's own build is served from the layer cache.
    _need("the aws CLI (pip install awscli)",
          str(VENV_BIN / "aws") if (VENV_BIN / "aws").exists() else shutil.which("aws"))
    name = f"alsreco-ci-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKER_"))}
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_ENDPOINT_URL": moto,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "REGISTRY": registry,
    })
    # docker login must not touch the user's ~/.docker; DOCKER_HOST etc. would be dropped above.
    for keep in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    pushed_refs: list[str] = []
    try:
        r = subprocess.run([str(REPO / "build_and_push.sh"), name], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=1800)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-5000:]
        assert "creating ECR repository" in out

        # The repository exists in (moto's) ECR, in the region asked for.
        import boto3
        ecr = boto3.client("ecr", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        repos = ecr.describe_repositories(repositoryNames=[name])["repositories"]
        assert [repo["repositoryName"] for repo in repos] == [name]

        # Both tags reached the registry.
        tags = requests.get(f"http://{registry}/v2/{name}/tags/list", timeout=30).json()["tags"]
        assert "latest" in tags
        rev_tags = [t for t in tags if t != "latest"]
        assert len(rev_tags) == 1 and (not revision or rev_tags[0].startswith(revision)), tags
        pushed_refs = [f"{registry}/{name}:{t}" for t in tags] + [f"{name}:{t}" for t in tags]
        assert r.stdout.strip().splitlines()[-1] == f"{registry}/{name}:{rev_tags[0]}"

        # A second run finds the repository and pushes again (idempotent).
        r2 = subprocess.run([str(REPO / "build_and_push.sh"), name, "second"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=1800)
        assert r2.returncode == 0, (r2.stdout + r2.stderr)[-5000:]
        assert f"ECR repository {name} exists" in r2.stdout
        tags = requests.get(f"http://{registry}/v2/{name}/tags/list", timeout=30).json()["tags"]
        assert "second" in tags
        pushed_refs += [f"{registry}/{name}:second", f"{name}:second"]
    finally:
        for ref in pushed_refs:
            subprocess.run(["docker", "rmi", ref], capture_output=True)


def test_build_and_push_says_clearly_when_aws_is_not_logged_in(docker_engine, moto, tmp_path):
    """No credentials -> a clear error before anything is built."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_ENDPOINT_URL": moto,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
    })
    r = subprocess.run([str(REPO / "build_and_push.sh"), "alsreco-nocreds"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode != 0
    assert "not logged in" in r.stderr, r.stderr
    assert "building" not in r.stdout


def test_build_and_push_says_clearly_when_aws_is_missing(docker_engine, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("docker", "git", "bash", "dirname", "env", "sed", "mktemp", "rm", "tr", "grep", "cat"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = str(bindir)
    r = subprocess.run(["bash", str(REPO / "build_and_push.sh"), "alsreco-noaws", "x"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "aws CLI is not installed" in r.stderr, r.stderr
