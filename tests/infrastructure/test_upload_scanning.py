"""Every cabinet upload is scanned before an agent may download it (issue 31): GuardDuty
Malware Protection for S3 on the attachments, its verdict as an object tag the functions
read, and its result event on the mail queue."""

from __future__ import annotations

import json
from typing import Any


def test_guardduty_scans_the_attachments_and_its_results_reach_the_queue(
    packaged: dict[str, Any],
) -> None:
    resources = packaged["Resources"]
    plan = resources["UploadScanner"]["Properties"]
    assert plan["ProtectedResource"]["S3Bucket"] == {
        "BucketName": {"Ref": "MailBucket"},
        "ObjectPrefixes": ["attachments/"],
    }
    assert plan["Actions"] == {"Tagging": {"Status": "ENABLED"}}
    trust = resources["UploadScannerRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {
        "Service": "malware-protection-plan.guardduty.amazonaws.com"
    }
    rule = resources["UploadScanResults"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == [
        "GuardDuty Malware Protection Object Scan Result"
    ]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["MailQueue", "Arn"]}
    queue_policy = json.dumps(resources["MailQueuePolicy"])
    assert "events.amazonaws.com" in queue_policy and "UploadScanResults" in queue_policy


def test_the_functions_read_the_verdict(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    for name in ("APIHandler", "OnMail"):
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["UPLOAD_SCANNER"] == "guardduty"
    policies = json.dumps({n: r for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"})
    assert policies.count("s3:GetObjectTagging") >= 3  # the API, the mail handler, GuardDuty
