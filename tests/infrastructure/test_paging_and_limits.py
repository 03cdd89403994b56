"""Operations that page a person (issue 28): a stack deployed with its defaults pages
somebody or says it does not on purpose; mail cannot starve the API or the sweep; the
alarms an operator needs exist with a dashboard line and a runbook row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_deploying_without_a_pager_is_an_explicit_choice(packaged: dict[str, Any]) -> None:
    rule = packaged["Rules"]["SomeoneIsPaged"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "AllowNoPager"}, "false"]}
    asserted = json.dumps(rule["Assertions"])
    for parameter in (
        "AlarmEmail",
        "EscalationEmail",
        "EscalationHttpsEndpoint",
        "ManagementEmail",
    ):
        assert parameter in asserted
    assert packaged["Parameters"]["AllowNoPager"]["Default"] == "false"


def test_mail_cannot_starve_the_api_or_the_sweep(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    source = resources["OnMail"]["Properties"]["Events"]["OnMailSqsEventSource"]["Properties"]
    assert source["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MailConcurrency"}}
    assert resources["SlaSweep"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "SweepConcurrency"
    }
    assert (
        "MailConcurrency" in resources["APIHandlerThrottlesAlarm"]["Properties"]["AlarmDescription"]
    )


def test_every_alarm_has_a_runbook_row_and_each_new_one_a_dashboard_line(
    packaged: dict[str, Any],
) -> None:
    resources = packaged["Resources"]
    alarms = [n for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    runbook = README.split("### What each alarm means and what to do", 1)[1]
    assert [a for a in alarms if f"`{a}`" not in runbook] == []
    dashboard = json.dumps(resources["Dashboard"]["Properties"]["DashboardBody"])
    for metric in (
        "ApproximateAgeOfOldestMessage",
        "Duration",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "Latency",
        "NumberOfNotificationsFailed",
        "Reputation.BounceRate",
        "Reputation.ComplaintRate",
    ):
        assert metric in dashboard, metric
        assert any(resources[a]["Properties"].get("MetricName") == metric for a in alarms), metric
    p99 = resources["ApiLatencyAlarm"]["Properties"]
    assert p99["ExtendedStatistic"] == "p99" and p99["Threshold"] == 3000
    ses = resources["OutboundConfigurationSet"]["Properties"]["ReputationOptions"]
    assert ses == {"ReputationMetricsEnabled": True}


def test_the_api_waits_for_the_accounts_logging_role_on_a_first_deploy(
    packaged: dict[str, Any],
) -> None:
    """Issue 28: a first deploy failed when the stage came before the account's API
    Gateway logging role; the API now depends on it whenever this stack sets it."""
    resources = packaged["Resources"]
    assert "ApiLoggingReady" in resources["RestAPI"]["DependsOn"]
    handle = resources["ApiLoggingReady"]
    assert "Condition" not in handle  # always there, so the DependsOn always resolves
    assert handle["Metadata"]["Account"] == {
        "Fn::If": ["SetApiGatewayAccount", {"Ref": "ApiGatewayAccount"}, "already set"]
    }
