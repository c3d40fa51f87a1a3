"""The CDK app: `synth()` builds the CloudFormation template offline, no CDK CLI needed.

    .venv/bin/python -m infra.app [--outdir cdk.out] [-c api_key=true] [-c throttle_rate=20] ...

(or, with the CDK CLI: `cd infra && npx aws-cdk@2 deploy --parameters ImageUri=... ...`, infra/cdk.json).
The Lambda's code is the handler's modules of api/ (standard library + the runtime's boto3),
staged into a clean folder so nothing else of the repository is uploaded.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

REPO = Path(__file__).resolve().parents[1]
STACK_NAME = "AlsrecoStorefront"
# What the Lambdas (api.handler, api.authorizer) import; api/catalogue.py (numpy) and the local
# stand-ins (api/local_*.py: boto3, moto) stay out.
LAMBDA_MODULES = ("__init__", "answer", "authorizer", "behaviour", "endpoint", "errors", "event_store",
                  "event_stream", "events", "handler", "identity", "jwt", "live", "metrics", "schema", "settings",
                  "signing", "validate")
LAMBDA_DATA = ("request.schema.json", "events.schema.json")


def stage_lambda_code(target: Path) -> Path:
    """Copy the Lambdas' modules and data to `target`/api/; returns `target`."""
    (target / "api").mkdir(parents=True, exist_ok=True)
    for name in (*(f"{m}.py" for m in LAMBDA_MODULES), *LAMBDA_DATA):
        shutil.copy2(REPO / "api" / name, target / "api" / name)
    return target


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None, code_dir: Path | None = None):
    """(app, stack) for these context values (see infra/config.py)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")   # Debian 12's Node
    from aws_cdk import App

    from .config import StackConfig
    from .stack import StorefrontStack

    app = App(outdir=outdir, analytics_reporting=False)
    names = [f.name for f in dataclasses.fields(StackConfig)]
    merged = {k: app.node.try_get_context(k) for k in names if app.node.try_get_context(k) is not None}
    merged.update(context or {})
    config = StackConfig.from_context(merged)
    code = code_dir or stage_lambda_code(Path(tempfile.mkdtemp(prefix="alsreco-lambda-")))
    stack = StorefrontStack(app, STACK_NAME, config=config, code_dir=code,
                            description="alsreco storefront: SageMaker endpoint, recommendations API, page")
    return app, stack


def synth(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> dict[str, Any]:
    """The synthesized template (a dict); the cloud assembly goes to `outdir` (a temp dir by default)."""
    app, stack = build_app(context, outdir)
    assembly = app.synth()
    return assembly.get_stack_by_name(stack.stack_name).template


def _context_args(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"-c {pair}: expected name=value")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="synthesize the alsreco storefront stack")
    parser.add_argument("--outdir", default=os.environ.get("CDK_OUTDIR"))
    parser.add_argument("-c", "--context", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    template = synth(_context_args(args.context), args.outdir)
    print(f"synthesized {STACK_NAME}: {len(template['Resources'])} resources"
          + (f" -> {args.outdir}" if args.outdir else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
