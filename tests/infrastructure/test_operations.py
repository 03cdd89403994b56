"""Operable in production: read the packaged template as an operator would (issue 11).

Every alarm can reach someone, every notice has a subscriber, a bug alarms, the
dashboard draws what it says, customer accounts survive the stack, and a browser on the
cabinet's origin can call the API, errors included.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib import observability as obs

FUNCTIONS = ("APIHandler", "SlaSweep", "OnMail")


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def dashboard(template: dict[str, Any]) -> list[dict[str, Any]]:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return list(json.loads(body)["widgets"])


# -- alarms reach someone -----------------------------------------------------------------


def test_the_alarm_topic_key_lets_cloudwatch_publish(packaged: dict) -> None:
    resources = packaged["Resources"]
    topic = resources["OpsAlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "OpsAlarmKey"}  # not alias/aws/sns
    statements = resources["OpsAlarmKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [
        s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    assert resources["OpsAlarmKey"]["Properties"]["EnableKeyRotation"] is True
    every_alarm = alarms(packaged).values()
    assert all(a["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}] for a in every_alarm)


def test_escalations_and_abuse_notices_have_subscribers_and_outputs(packaged: dict) -> None:
    resources, parameters = packaged["Resources"], packaged["Parameters"]
    subscriptions = {
        (r["Properties"]["TopicArn"]["Ref"], r["Properties"]["Protocol"]): r
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription" and "Ref" in r["Properties"]["TopicArn"]
    }
    escalation_email = subscriptions[("EscalationTopic", "email")]
    assert escalation_email["Properties"]["Endpoint"] == {"Ref": "EscalationEmail"}  # R2.4
    assert ("EscalationTopic", "https") in subscriptions
    management = subscriptions[("ManagementTopic", "email")]
    assert management["Properties"]["Endpoint"] == {"Ref": "ManagementEmail"}  # R6.2
    assert {"EscalationEmail", "EscalationHttpsEndpoint", "ManagementEmail"} <= set(parameters)
    outputs = packaged["Outputs"]
    for name, ref in (
        ("EscalationTopicArn", "EscalationTopic"),
        ("ManagementTopicArn", "ManagementTopic"),
        ("ChatWebhookSecretArn", "ChatWebhookSecret"),
        ("OpsAlarmTopicArn", "OpsAlarmTopic"),
    ):
        assert outputs[name]["Value"] == {"Ref": ref}


def test_bugs_alarm_even_though_handlers_catch_them(packaged: dict) -> None:
    found = alarms(packaged)
    bugs = found["UnhandledErrorsAlarm"]
    assert (bugs["Namespace"], bugs["MetricName"]) == ("SupportIntake", obs.UNHANDLED_ERRORS)
    api = found["Api5xxAlarm"]
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert {"Name": "ApiName", "Value": "support-intake"} in api["Dimensions"]
    for metric in (obs.MAIL_FAILED, obs.NOTICE_FAILURES, obs.ESCALATIONS_PARKED):
        assert any(a["MetricName"] == metric for a in found.values()), metric


def test_failures_are_charted(packaged: dict) -> None:
    charted = json.dumps(dashboard(packaged))
    for metric in (
        obs.MAIL_FAILED,
        obs.NOTICE_FAILURES,
        obs.ESCALATIONS_PARKED,
        obs.UNHANDLED_ERRORS,
    ):
        assert metric in charted


def test_sla_breach_alarm_is_about_a_rate_not_each_breach(packaged: dict) -> None:
    breach = alarms(packaged)["SlaBreachedAlarm"]
    assert breach["Period"] == 900
    assert breach["Threshold"] == {"Ref": "BreachAlarmThreshold"}
    assert packaged["Parameters"]["BreachAlarmThreshold"]["Default"] > 1
    assert "OKActions" not in breach  # no ALARM-then-OK mail pair per breach


# -- the dashboard draws what it says --------------------------------------------------------


def test_the_open_tickets_gauge_is_not_summed(packaged: dict) -> None:
    for widget in dashboard(packaged):
        for metric in widget["properties"]["metrics"]:
            if obs.OPEN_OFFICIAL_TICKETS in metric:
                stat = widget["properties"].get("stat")
                options = metric[-1] if isinstance(metric[-1], dict) else {}
                assert options.get("stat", stat) in ("Maximum", "Average"), widget


def test_first_response_percentiles_are_one_line_each(packaged: dict) -> None:
    [widget] = [
        w for w in dashboard(packaged) if w["properties"]["title"].startswith("First response")
    ]
    lines = widget["properties"]["metrics"]
    assert [m[-1]["stat"] for m in lines] == ["p50", "p95"]
    for line in lines:
        assert line[:4] == [
            "SupportIntake",
            obs.FIRST_RESPONSE_MINUTES,
            "service",
            "support-intake",
        ]
        assert "expression" not in json.dumps(line)  # no SEARCH fanning out per dimension


# -- day one: setup notifications do not dead-letter (tested in test_mail_setup_events) ----


# -- customer accounts --------------------------------------------------------------------------


def test_customer_accounts_survive_the_stack(packaged: dict) -> None:
    pool = packaged["Resources"]["UserPool"]
    assert pool["DeletionPolicy"] == "Retain" and pool["UpdateReplacePolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


def test_admin_password_sign_in_is_for_the_local_stage_only(packaged: dict) -> None:
    client = packaged["Resources"]["UserPoolClient"]
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" not in client["Properties"]["ExplicitAuthFlows"]
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in client["Metadata"]["LocalExplicitAuthFlows"]


def test_the_mail_queue_takes_s3_notifications_from_the_mail_bucket_only(packaged: dict) -> None:
    resources = packaged["Resources"]
    statements = resources["MailQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [s3] = [s for s in statements if s["Principal"] == {"Service": "s3.amazonaws.com"}]
    assert s3["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    arn = s3["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    bucket = resources["MailBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert arn == "arn:${AWS::Partition}:s3:::" + bucket


# -- logs, throttling ---------------------------------------------------------------------------


def test_logs_expire_and_exist_before_their_functions(packaged: dict) -> None:
    resources = packaged["Resources"]
    for function in FUNCTIONS:
        group = resources[f"{function}LogGroup"]["Properties"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        name = resources[function]["Properties"]["FunctionName"]["Fn::Sub"]
        assert group["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/{name}"
        assert f"{function}LogGroup" in resources[function]["DependsOn"]
    access = resources["ApiAccessLogs"]["Properties"]
    assert access["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_api_has_access_logs_and_throttling_tighter_on_the_chat_webhook(
    packaged: dict,
) -> None:
    api = packaged["Resources"]["RestAPI"]["Properties"]
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in api["MethodSettings"]}
    assert settings[("/*", "*")]["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    chat = settings[("/~1chat~1transcripts", "POST")]
    assert chat["ThrottlingRateLimit"] == {"Ref": "ChatRateLimit"}
    defaults = packaged["Parameters"]
    assert defaults["ChatRateLimit"]["Default"] < defaults["ApiRateLimit"]["Default"]


def test_the_knowledge_base_url_is_a_required_deployment_parameter(packaged: dict) -> None:
    parameter = packaged["Parameters"]["KnowledgeBaseUrl"]
    assert "Default" not in parameter  # a deployer must give it
    for function in FUNCTIONS:
        env = packaged["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert env["KB_BASE_URL"] == {"Ref": "KnowledgeBaseUrl"}


# -- the API as a browser sees it -----------------------------------------------------------


def test_every_route_has_an_options_method_without_authorizer(packaged: dict) -> None:
    paths = packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        assert "options" in methods, path
        assert "security" not in methods["options"], path
        assert methods["options"]["x-amazon-apigateway-integration"]["type"] == "aws_proxy"


def test_cors_origins_are_a_deployment_parameter_given_to_the_api(packaged: dict) -> None:
    env = packaged["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    # The cabinet's origins, and the staff console this stack hosts.
    console = {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}
    assert env["CORS_ORIGINS"] == {"Fn::Join": [",", [{"Ref": "CorsOrigins"}, console]]}
    assert "Default" not in packaged["Parameters"]["CorsOrigins"]


@pytest.mark.parametrize(
    ("response", "status", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", 404, "not_found"),  # an unknown route
        ("UNAUTHORIZED", 401, "unauthenticated"),  # the authorizer's refusal
        ("ACCESS_DENIED", 403, "forbidden"),
        ("THROTTLED", 429, "too_many_requests"),
        ("DEFAULT_4XX", None, "bad_request"),
        ("DEFAULT_5XX", None, "internal_error"),
    ],
)
def test_gateway_responses_have_the_error_shape_and_cors(
    packaged: dict, response: str, status: int | None, code: str
) -> None:
    gateway = packaged["Resources"]["RestAPI"]["Properties"]["GatewayResponses"][response]
    if status is not None:
        assert gateway["StatusCode"] == status
    template = gateway["ResponseTemplates"]["application/json"]
    rendered = re.sub(r"\$context\.[a-zA-Z.]+", "x", template).replace('": x', '": "x"')
    assert json.loads(rendered)["error"]["code"] == code
    headers = gateway["ResponseParameters"]["Headers"]
    for header in ("Authorization", "Content-Type", "Idempotency-Key"):
        assert header in headers["Access-Control-Allow-Headers"]
    assert "Location" in headers["Access-Control-Expose-Headers"]
    assert "Idempotent-Replayed" in headers["Access-Control-Expose-Headers"]
    # Issue 28: the first origin alone left a browser on the second one with a CORS failure
    # instead of a readable 401; the gateway's own errors echo the caller's origin (they
    # carry no data and no credentials), as the local stack's do.
    assert headers["Access-Control-Allow-Origin"] == "method.request.header.Origin"
    assert headers["Vary"] == "'Origin'"


def test_the_bundle_holds_only_what_runs_in_lambda(bundle: list[str]) -> None:
    """No moto, no local stack, no command line (issue 12): `python -m chalicelib` is a
    thin entry point that delegates to devtools/, which is not packaged."""
    assert not [n for n in bundle if n.startswith(("moto/", "devtools/", "chalicelib/devstack/"))]
    assert not [n for n in bundle if n.startswith(("boto3/", "botocore/"))]  # the runtime's
    assert "chalicelib/__main__.py" in bundle and "app.py" in bundle
    assert "chalicelib/openapi.json" in bundle


def test_the_dashboard_charts_incidents_administration_and_the_lifecycle(packaged: dict) -> None:
    from chalicelib import observability as obs

    text = json.dumps(dashboard(packaged))
    for metric in (
        obs.INCIDENT_LINKED_REQUESTS,
        obs.INCIDENT_UPDATES_SENT,
        obs.ESCALATIONS_GROUPED,
        obs.QUOTES,
        obs.FREE_ADMIN_REQUESTS,
        obs.STATUS_CHANGED,
        obs.ATTACHMENTS_CHECKED,
    ):
        assert metric in text, metric
    positions = {(w["x"], w["y"]) for w in dashboard(packaged)}
    assert len(positions) == len(dashboard(packaged))  # no widget hides another


def test_the_bundle_carries_bytecode_lambda_uses_without_compiling(
    package_dir: Path, tmp_path: Path
) -> None:
    """Issue 29, cold start: Chalice bundles source only and `/var/task` is read-only, so
    each cold start compiled every module it imported (about 150 ms). Every module has an
    unchecked-hash `.pyc` (PEP 552) of its own source, and `import app` from the unpacked
    bundle compiles none of the bundle's modules."""
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        names = set(archive.namelist())
        sources = sorted(n for n in names if n.endswith(".py"))
        tag = sys.implementation.cache_tag
        for source in sources:
            folder, _, file = source.rpartition("/")
            pyc = f"{folder}/__pycache__/{file[:-3]}.{tag}.pyc".lstrip("/")
            assert pyc in names, source
            data = archive.read(pyc)
            assert data[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked
            assert data[8:16] == importlib.util.source_hash(archive.read(source)), source
        archive.extractall(tmp_path)
    probe = (
        "import importlib._bootstrap_external as b, sys\n"
        "compiled, compile = [], b.SourceLoader.source_to_code\n"
        "def counting(self, data, path, **kw):\n"
        "    compiled.append(path)\n"
        "    return compile(self, data, path, **kw)\n"
        "b.SourceLoader.source_to_code = counting\n"
        "import app\n"
        "print(sorted(p for p in compiled if p.startswith(sys.argv[1])))\n"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "eu-central-1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout
