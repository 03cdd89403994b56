"""The staff console deployed (API.md, "The staff console"): static files on a private
bucket behind CloudFront with strict security headers, staff signing in through the
Cognito hosted UI (authorization code with PKCE), the URL as a stack output; and no
trace of the local stack's sign-in page in the template or the bundle."""

from __future__ import annotations

import json
from typing import Any


def _resources(packaged: dict[str, Any], kind: str) -> dict[str, Any]:
    return {n: r for n, r in packaged["Resources"].items() if r["Type"] == kind}


def test_the_dev_sign_in_page_is_not_deployed(packaged: dict[str, Any], bundle: list[str]) -> None:
    paths = packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert not [p for p in paths if "console" in p or "signin" in p], paths.keys()
    assert "dev-signin" not in json.dumps(packaged)
    assert not [f for f in bundle if f.startswith(("devtools/", "console/"))]


def test_the_console_is_hosted_privately_with_strict_headers(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    bucket = resources["ConsoleBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    [distribution] = _resources(packaged, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeaders"}
    assert config["Origins"][0]["OriginAccessControlId"]
    headers = resources["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    policy = json.dumps(headers["SecurityHeadersConfig"]["ContentSecurityPolicy"])
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    statement = resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert "ConsoleUrl" in packaged["Outputs"]


def test_staff_sign_in_through_the_hosted_ui_with_pkce(packaged: dict[str, Any]) -> None:
    client = packaged["Resources"]["ConsoleClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["CallbackURLs"] == [{"Fn::Sub": "https://${ConsoleDistribution.DomainName}/"}]
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]
    domain = packaged["Resources"]["ConsoleSignInDomain"]
    assert domain["Type"] == "AWS::Cognito::UserPoolDomain"
    # The API accepts the console's origin, and escalations link into the hosted console.
    env = packaged["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "ConsoleDistribution.DomainName" in json.dumps(env["CORS_ORIGINS"])
    assert "ConsoleDistribution.DomainName" in json.dumps(env["CONSOLE_URL"])
