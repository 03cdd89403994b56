"""`python -m chalicelib publish-console --stack NAME`: the staff console's files to the
deployed stack's console bucket, with the `config.json` that tells the console where the
API is and how staff sign in (the Cognito hosted UI), then a CloudFront invalidation.

Run after each deploy (README, Deployment); it reads everything from the stack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from devtools.console import CONSOLE_DIR, TYPES

# index.html and config.json are read on every start: never cached for long. The modules
# change with the console, in place, so the browser revalidates them too (they are small).
CACHE = {"index.html": "no-cache", "config.json": "no-cache"}
DEFAULT_CACHE = "max-age=300, must-revalidate"


def console_config(outputs: dict[str, str], parameters: dict[str, str]) -> dict[str, Any]:
    """What the deployed console reads at start (`config.json`)."""
    api = (parameters.get("PublicApiUrl") or outputs["EndpointURL"]).rstrip("/")
    console_url = outputs["ConsoleUrl"]
    return {
        "signin": "cognito",
        "api": api,
        "auth": {
            "domain": outputs["ConsoleSignInDomain"].rstrip("/"),
            "client_id": outputs["ConsoleClientId"],
            "redirect_uri": console_url,
        },
    }


def files(console_dir: Path = CONSOLE_DIR) -> list[tuple[str, Path, str]]:
    """(key, path, content type) of every file the console serves."""
    found = []
    for path in sorted(console_dir.rglob("*")):
        if path.is_file() and path.suffix in TYPES:
            found.append((path.relative_to(console_dir).as_posix(), path, TYPES[path.suffix]))
    return found


def publish(
    outputs: dict[str, str],
    parameters: dict[str, str],
    s3: Any,
    cloudfront: Any,
    console_dir: Path = CONSOLE_DIR,
) -> list[str]:
    """Uploads the console and its config, invalidates the distribution; the keys written."""
    bucket = outputs["ConsoleBucketName"]
    written = []
    for key, path, kind in files(console_dir):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=kind,
            CacheControl=CACHE.get(key, DEFAULT_CACHE),
        )
        written.append(key)
    config = json.dumps(console_config(outputs, parameters)).encode()
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=config,
        ContentType=TYPES[".json"],
        CacheControl=CACHE["config.json"],
    )
    written.append("config.json")
    cloudfront.create_invalidation(
        DistributionId=outputs["ConsoleDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"publish-console-{time.time_ns()}",
        },
    )
    return written


def publish_stack(stack_name: str) -> list[str]:
    """Reads the stack's outputs and parameters, then `publish`."""
    import boto3

    [described] = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described["Parameters"]}
    return publish(outputs, parameters, boto3.client("s3"), boto3.client("cloudfront"))
