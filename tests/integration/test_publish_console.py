"""Publishing the staff console to a deployed stack (README, Deployment), on moto: every
file with its type, and a `config.json` that sends staff to the Cognito hosted UI."""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto import mock_aws

from devtools.publish_console import console_config, files, publish

OUTPUTS = {
    "EndpointURL": "https://abc123.execute-api.eu-central-1.amazonaws.com/api/",
    "ConsoleUrl": "https://d111.cloudfront.net/",
    "ConsoleBucketName": "console-bucket",
    "ConsoleClientId": "client-123",
    "ConsoleSignInDomain": "https://support-intake-1.auth.eu-central-1.amazoncognito.com",
}


def _distribution(cloudfront: Any) -> str:
    made = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "console",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "console",
                        "DomainName": "console-bucket.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "console",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )
    return str(made["Distribution"]["Id"])


def test_every_console_file_and_its_config_reach_the_bucket() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="console-bucket")
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        outputs = {**OUTPUTS, "ConsoleDistributionId": _distribution(cloudfront)}
        written = publish(outputs, {"PublicApiUrl": ""}, s3, cloudfront)
        assert {"index.html", "style.css", "js/main.js", "config.json"} <= set(written)
        assert "dev-signin" not in " ".join(written)
        index = s3.get_object(Bucket="console-bucket", Key="index.html")
        assert index["ContentType"].startswith("text/html") and index["CacheControl"] == "no-cache"
        module = s3.get_object(Bucket="console-bucket", Key="js/main.js")
        assert module["ContentType"].startswith("text/javascript")
        config = json.loads(
            s3.get_object(Bucket="console-bucket", Key="config.json")["Body"].read()
        )
        assert config == {
            "signin": "cognito",
            "api": "https://abc123.execute-api.eu-central-1.amazonaws.com/api",
            "auth": {
                "domain": OUTPUTS["ConsoleSignInDomain"],
                "client_id": "client-123",
                "redirect_uri": "https://d111.cloudfront.net/",
            },
        }
        invalidations = cloudfront.list_invalidations(
            DistributionId=outputs["ConsoleDistributionId"]
        )
        assert invalidations["InvalidationList"]["Quantity"] == 1


def test_a_public_api_url_is_what_the_console_calls() -> None:
    config = console_config(OUTPUTS, {"PublicApiUrl": "https://api.example.com/"})
    assert config["api"] == "https://api.example.com"
    assert all(key.startswith(("js/", "index", "style")) for key, _, _ in files())
