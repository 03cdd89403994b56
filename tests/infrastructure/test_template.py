"""The deployable template: what operations rely on is asserted, not assumed (issue: infra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import REQUIRED
from devtools.resources import template

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("APIHandler", "SlaSweep", "OnMail")


def resources() -> dict[str, Any]:
    return template()["Resources"]


def test_tables_have_point_in_time_recovery_deletion_protection_and_encryption() -> None:
    for name in ("SupportTable",):
        props = resources()[name]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert resources()[name]["DeletionPolicy"] == "Retain"


def test_one_table_and_nothing_in_it_expires() -> None:
    """A keyed create's receipt lives beside its ticket for as long as the ticket:
    the idempotency records need no table or TTL of their own."""
    tables = [n for n, r in resources().items() if r.get("Type") == "AWS::DynamoDB::Table"]
    assert tables == ["SupportTable"]
    assert "TimeToLiveSpecification" not in resources()["SupportTable"]["Properties"]


def test_the_customer_index_and_the_sparse_deadline_index_exist() -> None:
    indexes = {
        i["IndexName"]: i
        for i in resources()["SupportTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    assert [k["AttributeName"] for k in indexes["ByCustomer"]["KeySchema"]] == ["GSI1PK", "GSI1SK"]
    assert [k["AttributeName"] for k in indexes["DueDeadlines"]["KeySchema"]] == [
        "GSI2PK",
        "GSI2SK",
    ]


def test_mail_queue_dead_letters_after_five_receives_and_outlasts_the_handler() -> None:
    queue = resources()["MailQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["MailDeadLetterQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert queue["VisibilityTimeout"] >= 6 * config["stages"]["prod"]["lambda_timeout"]


def test_mail_bucket_is_private_encrypted_and_writable_by_ses_only_for_this_account() -> None:
    props = resources()["MailBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert any(rule.get("Prefix") == "raw/" for rule in props["LifecycleConfiguration"]["Rules"])
    statements = resources()["MailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    ses = next(s for s in statements if s["Sid"] == "AllowSESPuts")
    assert ses["Principal"] == {"Service": "ses.amazonaws.com"}
    assert ses["Condition"]["StringEquals"]["AWS:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)


def test_receipt_rule_stores_raw_mail_and_notifies_the_mail_topic() -> None:
    rule = resources()["ReceiptRule"]["Properties"]["Rule"]
    [action] = rule["Actions"]
    assert action["S3Action"]["ObjectKeyPrefix"] == "raw/"
    assert action["S3Action"]["TopicArn"] == {"Ref": "MailTopic"}
    assert rule["ScanEnabled"] is True


def test_alarms_cover_breaches_dead_letters_errors_and_a_silent_sweep() -> None:
    alarms = {
        k: v["Properties"]
        for k, v in resources().items()
        if v.get("Type") == "AWS::CloudWatch::Alarm"
    }
    breach = alarms["SlaBreachedAlarm"]
    assert (breach["MetricName"], breach["ComparisonOperator"]) == (
        "SlaBreached",
        "GreaterThanOrEqualToThreshold",
    )
    dlq = alarms["MailDeadLetterAlarm"]
    assert (dlq["Threshold"], dlq["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    silent = alarms["SweepNotRunningAlarm"]
    assert (silent["MetricName"], silent["ComparisonOperator"], silent["TreatMissingData"]) == (
        "SweepRuns",
        "LessThanThreshold",
        "breaching",
    )
    for function in FUNCTIONS:
        assert alarms[f"{function}ErrorsAlarm"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": function}}
        ]
    assert all(a["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}] for a in alarms.values())


def test_alarm_metric_names_are_the_ones_the_code_emits() -> None:
    from chalicelib import observability as obs

    assert obs.SLA_BREACHED == "SlaBreached" and obs.SWEEP_RUNS == "SweepRuns"
    body = json.dumps(resources()["Dashboard"]["Properties"]["DashboardBody"])
    for name in (
        obs.TICKETS_CREATED,
        obs.ADVISORY_RECORDED,
        obs.FIRST_RESPONSE_MINUTES,
        obs.SLA_WARNED,
        obs.SLA_BREACHED,
        obs.MACHINE_MAIL,
        obs.MAIL_QUARANTINED,
    ):
        assert name in body


def _statements(role: str) -> list[dict[str, Any]]:
    policies = resources()[role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("role", ["ApiRole", "SweepRole", "MailRole"])
def test_least_privilege_no_wildcard_actions_and_wildcard_resources_only_for_xray(
    role: str,
) -> None:
    for statement in _statements(role):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in action for action in actions), statement
        if statement["Resource"] == "*":
            assert all(a.startswith("xray:") for a in actions), statement


def test_each_function_may_only_do_its_own_job() -> None:
    def actions(role: str) -> set[str]:
        found = set()
        for s in _statements(role):
            found |= set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        return found

    # Answers and notifications leave from the API (R2.6), acknowledgements from the mail
    # function, and whatever is still owed from the sweep's drain of the outbox.
    for role in ("ApiRole", "SweepRole", "MailRole"):
        [ses] = [s for s in _statements(role) if s["Action"] == ["ses:SendRawEmail"]]
        assert all("*" not in str(r) for r in ses["Resource"]), ses
        assert any("configuration-set" in str(r) for r in ses["Resource"]), ses
    assert "s3:GetObject" not in actions("SweepRole")
    # The API offers files (presigned by its role): ticket attachments and the
    # attachments of mail records. It never reads raw mail.
    api_reads = [
        s["Resource"]["Fn::Sub"] for s in _statements("ApiRole") if "s3:GetObject" in s["Action"]
    ]
    assert sorted(api_reads) == ["${MailBucket.Arn}/attachments/*", "${MailBucket.Arn}/records/*"]
    assert "secretsmanager:GetSecretValue" in actions("ApiRole")
    assert "secretsmanager:GetSecretValue" not in actions("MailRole") | actions("SweepRole")
    sweep_topics = [
        s["Resource"] for s in _statements("SweepRole") if s["Action"] == ["sns:Publish"]
    ]
    # The sweep drains the outbox: escalations on-duty, abuse notices to management.
    assert sweep_topics == [[{"Ref": "EscalationTopic"}, {"Ref": "ManagementTopic"}]]
    # An outbox claim is a transaction that deletes and puts the entry.
    for role in ("ApiRole", "SweepRole", "MailRole"):
        assert "dynamodb:DeleteItem" in actions(role)


def test_packaged_functions_get_their_roles_and_every_required_setting(packaged: dict) -> None:
    for function, role in zip(FUNCTIONS, ("ApiRole", "SweepRole", "MailRole"), strict=True):
        props = packaged["Resources"][function]["Properties"]
        assert props["Role"] == {"Fn::GetAtt": [role, "Arn"]}
        assert set(REQUIRED) <= set(props["Environment"]["Variables"])
        assert props["Tracing"] == "Active"


def test_packaged_mail_handler_reports_batch_item_failures_from_the_mail_queue(
    packaged: dict,
) -> None:
    event = packaged["Resources"]["OnMail"]["Properties"]["Events"]["OnMailSqsEventSource"]
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["MailQueue", "Arn"]}


POOL_ARN = {
    "Fn::If": [
        "CreateUserPool",
        {"Fn::GetAtt": ["UserPool", "Arn"]},
        {"Ref": "ExistingUserPoolArn"},
    ]
}


def test_packaged_api_authorizer_uses_the_stack_or_the_existing_user_pool(packaged: dict) -> None:
    body = packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["SupportUsers"]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == [POOL_ARN]


def test_an_existing_user_pool_replaces_the_stack_one_everywhere() -> None:
    owners = ("UserPool", "UserPoolClient", "StaffGroup", "ConsoleSignInDomain")
    for name in owners:
        assert resources()[name]["Condition"] == "CreateUserPool"
    uses = json.dumps({k: v for k, v in resources().items() if k not in owners})
    pool_id = {
        "Fn::If": [
            "CreateUserPool",
            {"Ref": "UserPool"},
            {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "ExistingUserPoolArn"}]}]},
        ]
    }
    rest = uses.replace(json.dumps(POOL_ARN), "").replace(json.dumps(pool_id), "")
    assert '"UserPool"' not in rest


def test_packaged_sweep_runs_every_minute(packaged: dict) -> None:
    events = packaged["Resources"]["SlaSweep"]["Properties"]["Events"]
    assert events["SlaSweepEvent"]["Properties"]["Schedule"] == "rate(1 minute)"


def test_bounces_and_complaints_come_back_to_the_mail_queue() -> None:
    resources = template()["Resources"]
    destination = resources["OutboundFeedbackDestination"]["Properties"]["EventDestination"]
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["SnsDestination"]["TopicARN"] == {"Ref": "MailFeedbackTopic"}
    subscription = resources["MailFeedbackSubscription"]["Properties"]
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["MailQueue", "Arn"]}
    [allowed] = [
        s
        for s in resources["MailQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "sns.amazonaws.com"}
    ]
    assert {"Ref": "MailFeedbackTopic"} in allowed["Condition"]["ArnEquals"]["aws:SourceArn"]


def test_r2_9_the_on_duty_inbox_gets_breaches_and_warnings_only_if_asked() -> None:
    """Warnings go where the on-duty lead chooses: the inbox's filter policy keeps them
    out unless EscalationWarningsToEmail says true; the HTTPS endpoint gets everything."""
    email = resources()["EscalationEmailSubscription"]["Properties"]
    assert email["FilterPolicyScope"] == "MessageAttributes"
    chosen, with_warnings, without = email["FilterPolicy"]["Fn::If"]
    assert chosen == "WarningsToEmail"
    assert "sla_warning" in with_warnings["kind"] and "sla_warning" not in without["kind"]
    assert {"sla_breach", "incident_breach"} <= set(without["kind"])
    assert "FilterPolicy" not in resources()["EscalationHttpsSubscription"]["Properties"]
    assert template()["Parameters"]["EscalationWarningsToEmail"]["Default"] == "false"


def test_r2_9_every_function_knows_the_console_escalations_link_to(packaged: dict) -> None:
    for function in FUNCTIONS:
        variables = packaged["Resources"][function]["Properties"]["Environment"]["Variables"]
        hosted = {"Fn::Sub": "https://${ConsoleDistribution.DomainName}/"}
        assert variables["CONSOLE_URL"] == {
            "Fn::If": ["HasConsoleUrl", {"Ref": "ConsoleUrl"}, hosted]
        }
