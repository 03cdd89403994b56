"""Create AWS resources (in moto) from the definitions in infrastructure/resources.json.

CloudFormation's table properties have the same shape as DynamoDB's CreateTable
parameters, so the template is the single source of truth for tests, the local
stack and deployment alike.
"""

from __future__ import annotations

import contextlib
import json
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-central-1"
TEMPLATE = REPO / "infrastructure" / "resources.json"
_CREATE_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "SSESpecification",
    "DeletionProtectionEnabled",
)


@cache
def template() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    return data


def resource(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template()["Resources"][logical_id]
    return found


def local_names() -> dict[str, str]:
    """Environment variable → local resource name, from the resources' metadata."""
    names = {}
    for definition in template()["Resources"].values():
        meta = definition.get("Metadata") or {}
        if "EnvVar" in meta and "LocalName" in meta:
            names[meta["EnvVar"]] = meta["LocalName"]
    return names


def create_table_kwargs(logical_id: str, table_name: str) -> dict[str, Any]:
    props = resource(logical_id)["Properties"]
    kwargs = {k: props[k] for k in _CREATE_TABLE_KEYS if k in props}
    kwargs["TableName"] = table_name
    if "SSESpecification" in kwargs:
        kwargs["SSESpecification"] = {"Enabled": kwargs["SSESpecification"]["SSEEnabled"]}
    return kwargs


def create_table(dynamodb: Any, logical_id: str, table_name: str) -> None:
    """Create one table with its indexes, TTL and point-in-time recovery."""
    props = resource(logical_id)["Properties"]
    dynamodb.create_table(**create_table_kwargs(logical_id, table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification=pitr,
        )


def create_tables(dynamodb: Any, names: dict[str, str]) -> None:
    """Create every DynamoDB table of the template; `names` maps EnvVar → table name."""
    for logical_id, definition in template()["Resources"].items():
        if definition.get("Type") != "AWS::DynamoDB::Table":
            continue
        env_var = definition["Metadata"]["EnvVar"]
        create_table(dynamodb, logical_id, names[env_var])


def create_user_pool(cognito: Any, pool_name: str) -> tuple[str, str, str]:
    """The cabinet's user pool, its app client and the staff group: (pool id, arn, client id)."""
    props = resource("UserPool")["Properties"]
    pool = cognito.create_user_pool(
        PoolName=pool_name,
        UsernameAttributes=props["UsernameAttributes"],
        AutoVerifiedAttributes=props["AutoVerifiedAttributes"],
        Policies=props["Policies"],
        UserAttributeUpdateSettings=props["UserAttributeUpdateSettings"],
    )["UserPool"]
    client_definition = resource("UserPoolClient")
    client_props = client_definition["Properties"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=client_props["ClientName"],
        GenerateSecret=client_props["GenerateSecret"],
        ReadAttributes=client_props["ReadAttributes"],  # what the ID token carries
        # Locally, dev-token signs users in with admin password auth; the deployed client
        # does not allow it (the template's Metadata says which flows are local-only).
        ExplicitAuthFlows=client_definition["Metadata"]["LocalExplicitAuthFlows"],
    )["UserPoolClient"]
    group = resource("StaffGroup")["Properties"]
    cognito.create_group(
        UserPoolId=pool["Id"], GroupName=group["GroupName"], Description=group["Description"]
    )
    return pool["Id"], pool["Arn"], client["ClientId"]


def create_topics(sns: Any) -> dict[str, str]:
    """Every SNS topic of the template; returns EnvVar → topic ARN."""
    arns = {}
    for definition in template()["Resources"].values():
        meta = definition.get("Metadata") or {}
        if definition.get("Type") != "AWS::SNS::Topic" or "LocalName" not in meta:
            continue  # deploy-only topics (operations alarms) have no local counterpart
        arns[meta["EnvVar"]] = sns.create_topic(Name=meta["LocalName"])["TopicArn"]
    return arns


def create_secrets(secrets: Any, value: str | None = None) -> dict[str, str]:
    """Every secret of the template, with a random value unless one is given: EnvVar → name."""
    import secrets as random_source

    names = {}
    for definition in template()["Resources"].values():
        if definition.get("Type") != "AWS::SecretsManager::Secret":
            continue
        meta = definition["Metadata"]
        length = definition["Properties"]["GenerateSecretString"]["PasswordLength"]
        with contextlib.suppress(secrets.exceptions.ResourceExistsException):  # kept as is
            secrets.create_secret(
                Name=meta["LocalName"],
                SecretString=value or random_source.token_urlsafe(length)[:length],
            )
        names[meta["EnvVar"]] = meta["LocalName"]
    return names


def create_mail_path(s3: Any, sns: Any, sqs: Any) -> dict[str, str]:
    """The bucket, topic, queue and dead-letter queue of inbound mail, wired as deployed.

    moto never runs SES receipt rules: the local stack and the tests put raw mail in the
    bucket and publish the SES-shaped notification to the topic themselves.
    """
    bucket = resource("MailBucket")["Metadata"]["LocalName"]
    with contextlib.suppress(
        s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists
    ):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    topic = sns.create_topic(Name=resource("MailTopic")["Metadata"]["LocalName"])["TopicArn"]
    dlq_name = resource("MailDeadLetterQueue")["Metadata"]["LocalName"]
    dlq_props = resource("MailDeadLetterQueue")["Properties"]
    dlq_url = sqs.create_queue(
        QueueName=dlq_name,
        Attributes={"MessageRetentionPeriod": str(dlq_props["MessageRetentionPeriod"])},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = resource("MailQueue")
    props = queue["Properties"]
    redrive = {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"],
    }
    url = sqs.create_queue(
        QueueName=queue["Metadata"]["LocalName"],
        Attributes={
            "VisibilityTimeout": str(props["VisibilityTimeout"]),
            "MessageRetentionPeriod": str(props["MessageRetentionPeriod"]),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    feedback = sns.create_topic(Name=resource("MailFeedbackTopic")["Metadata"]["LocalName"])
    # Inbound mail and SES's bounces and complaints reach the one queue, as deployed.
    for name, source in (
        ("MailSubscription", topic),
        ("MailFeedbackSubscription", feedback["TopicArn"]),
    ):
        subscription = resource(name)["Properties"]
        sns.subscribe(
            TopicArn=source,
            Protocol=subscription["Protocol"],
            Endpoint=arn,
            Attributes={"RawMessageDelivery": str(subscription["RawMessageDelivery"]).lower()},
        )
    return {
        "MAIL_BUCKET": bucket,
        "MAIL_TOPIC_ARN": topic,
        "MAIL_QUEUE_URL": url,
        "MAIL_DLQ_URL": dlq_url,
    }


def discover(session: Any) -> dict[str, str] | None:
    """EnvVar -> the running local resource, found by its local name; None if any is
    missing. Reads only: nothing is created."""
    found: dict[str, str] = {}
    tables = set(session.client("dynamodb").list_tables()["TableNames"])
    topics = {
        arn.rsplit(":", 1)[-1]: arn
        for page in session.client("sns").get_paginator("list_topics").paginate()
        for arn in (t["TopicArn"] for t in page["Topics"])
    }
    sqs = session.client("sqs")
    for definition in template()["Resources"].values():
        meta = definition.get("Metadata") or {}
        if "LocalName" not in meta:
            continue
        kind, name, var = definition["Type"], meta["LocalName"], meta["EnvVar"]
        if kind == "AWS::DynamoDB::Table":
            if name not in tables:
                return None
            found[var] = name
        elif kind == "AWS::SNS::Topic":
            if name not in topics:
                return None
            found[var] = topics[name]
        elif kind == "AWS::SQS::Queue":
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except sqs.exceptions.QueueDoesNotExist:
                return None
            found[var] = name
            found["MAIL_DLQ_URL" if var == "MAIL_DLQ_NAME" else "MAIL_QUEUE_URL"] = url
        elif kind in ("AWS::SecretsManager::Secret", "AWS::S3::Bucket"):
            found[var] = name
    return found


def ses_notification(bucket: str, key: str, *, source: str | None, verdicts: dict[str, str]) -> str:
    """The SNS message SES publishes for an S3 receipt action (the fields we read)."""
    receipt = {f"{name}Verdict": {"status": status} for name, status in verdicts.items()}
    receipt["action"] = {"type": "S3", "bucketName": bucket, "objectKey": key}
    mail = {"source": source, "messageId": key.rsplit("/", 1)[-1]}
    return json.dumps({"notificationType": "Received", "receipt": receipt, "mail": mail})
