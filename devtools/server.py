"""`python -m chalicelib dev`: moto, the resources, and `chalice local`, on loopback only."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib import observability as obs
from chalicelib.outbound.notify import notice_of
from devtools import console as console_files, local_edge, local_metrics, mail_simulator
from devtools.mail import POLL_PAUSE, POLL_WAIT, poll_queue, watch_inbox
from devtools.resources import (
    REPO,
    create_mail_path,
    create_secrets,
    create_tables,
    create_topics,
    create_user_pool,
    discover,
    local_names,
)
from devtools.stack import ENV_VAR, LocalStack

STAGE = "local"
REGION = "eu-central-1"
POOL_NAME = "support-intake-local"


def aws_endpoint(port: int) -> str:
    return LocalStack(aws_port=port).aws_url


def not_running(aws_port: int) -> SystemExit:
    return SystemExit(
        f"no local stack answers on {aws_endpoint(aws_port)}: start one with `make run`, "
        f"or name the one you started with --port/--aws-port or {ENV_VAR}=<api port>:<aws port>"
    )


def point_boto3_at_moto(port: int) -> None:
    """Every boto3 client in this process (and its children) talks to the local moto."""
    os.environ["AWS_ENDPOINT_URL"] = aws_endpoint(port)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION


def bootstrap(port: int) -> dict[str, str]:
    """Create the tables and the user pool from infrastructure/ definitions."""
    import boto3

    names = local_names()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    existing = set(dynamodb.list_tables()["TableNames"])
    if names["SUPPORT_TABLE_NAME"] not in existing:
        create_tables(dynamodb, names)
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = find_pool(cognito)
    if pool is None:
        pool_id, arn, _ = create_user_pool(cognito, POOL_NAME)
    else:
        pool_id, arn = pool["Id"], pool["Arn"]
    topics = create_topics(boto3.client("sns", region_name=REGION))  # idempotent in SNS
    secrets = create_secrets(boto3.client("secretsmanager", region_name=REGION))
    mail = create_mail_path(
        boto3.client("s3", region_name=REGION),
        boto3.client("sns", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
    )
    from chalicelib.config import Settings

    # SES sends only from verified identities (moto checks it too).
    boto3.client("ses", region_name=REGION).verify_domain_identity(
        Domain=os.environ.get("MAIL_DOMAIN", Settings.mail_domain)
    )
    return {
        "SUPPORT_TABLE_NAME": names["SUPPORT_TABLE_NAME"],
        "USER_POOL_ARN": arn,
        "USER_POOL_ID": pool_id,
        **topics,
        **secrets,
        **mail,
    }


def local_environment(aws_port: int) -> dict[str, str]:
    """The environment of the running local stack, for commands run beside it.

    It only reads: the resources are found by their local names; creating them is the
    stack's own start-up (`bootstrap`).
    """
    import boto3
    from botocore.exceptions import EndpointConnectionError

    point_boto3_at_moto(aws_port)
    try:
        found = discover(boto3.session.Session(region_name=REGION))
    except EndpointConnectionError:
        raise not_running(aws_port) from None
    pool = find_pool(boto3.client("cognito-idp", region_name=REGION))
    if found is None or pool is None:
        raise SystemExit(
            f"the stack on {aws_endpoint(aws_port)} has not finished starting: wait for its banner"
        )
    return {**os.environ, **found, "USER_POOL_ID": pool["Id"], "USER_POOL_ARN": pool["Arn"]}


def dev_secret(aws_port: int) -> str:
    """The chat webhook secret of the running local stack."""
    import boto3

    env = local_environment(aws_port)
    client = boto3.client("secretsmanager", region_name=REGION)
    value: str = client.get_secret_value(SecretId=env["CHAT_SECRET_NAME"])["SecretString"]
    return value


def _print_notices(stop: threading.Event) -> None:
    """Show what the on-duty channel and management would receive, as it happens."""
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    url = sqs.create_queue(QueueName="local-console-notices")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for topic in ("ESCALATION_TOPIC_ARN", "MANAGEMENT_TOPIC_ARN"):
        sns.subscribe(TopicArn=os.environ[topic], Protocol="sqs", Endpoint=arn)
    while not stop.is_set():
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_WAIT)
        if not batch.get("Messages"):
            stop.wait(POLL_PAUSE)
        for message in batch.get("Messages", []):
            envelope = json.loads(message["Body"])
            notice = notice_of(message["Body"])
            print(f"NOTICE {notice.pop('kind')}: {envelope.get('Subject')}", flush=True)
            print("  " + json.dumps(notice, ensure_ascii=False), flush=True)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _sweep_every_minute(stop: threading.Event) -> None:
    """The local stand-in for the EventBridge schedule of `sla_sweep` (R2.4)."""
    from chalicelib.config import Settings
    from chalicelib.runtime import build_runtime

    runtime = build_runtime(Settings.from_env(os.environ))
    # A fixed rate, as EventBridge's rate(1 minute): the next run starts a minute after
    # this one started, not a minute after it ended (a sweep draining a fan-out for 35 s
    # made the stand-in's period 100 s).
    started = time.monotonic()
    while not stop.wait(max(0.0, started + 60 - time.monotonic())):
        started = time.monotonic()
        try:
            report = runtime.sweeper.run()
        except Exception as error:  # keep the stack up; the next minute tries again
            print(f"sla sweep failed: {error}", flush=True)
            continue
        finally:
            obs.flush()  # what Lambda's log_metrics middleware does after each run
        if report.warned or report.breached or report.escalated:
            print(f"SLA SWEEP {json.dumps(report.to_dict())}", flush=True)


def find_pool(cognito: Any) -> dict[str, Any] | None:
    for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
        if pool["Name"] == POOL_NAME:
            described: dict[str, Any] = cognito.describe_user_pool(UserPoolId=pool["Id"])[
                "UserPool"
            ]
            return described
    return None


class _StrictLocalAuthorizer:
    """Wraps chalice's local authorizer: a token that is not a JWT is a 401, not a crash.

    API Gateway answers 401 to a malformed token; chalice local would raise while
    decoding it. Well-formed tokens are passed on; the handlers still demand claims.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def authorize(self, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        from chalice.local import NotAuthorizedError

        headers = lambda_event.get("headers") or {}
        token = headers.get("authorization")
        route = self._inner._route_for_event(lambda_event)
        guarded = route is not None and route.authorizer is not None
        # Like API Gateway: a route without an authorizer never looks at the header.
        if guarded and token is not None and not _looks_like_jwt(token):
            body = json.dumps(
                {"error": {"code": "unauthenticated", "message": "malformed token"}}
            ).encode()
            raise NotAuthorizedError({"Content-Type": "application/json"}, body)
        return self._inner.authorize(raw_path, lambda_event, lambda_context)


def install_gateway_responses(local: Any, console: ConsoleServer | None = None) -> None:
    """API Gateway's own answers, as the template's Gateway Responses shape them.

    chalice local answers an unknown route with 403 `{"message": "Missing Authentication
    Token"}` and a refused token with `{"message": "Unauthorized"}`; deployed, the
    Gateway Responses make them 404 and 401 in API.md's error shape, with CORS.
    """
    from chalicelib.http import cors_headers

    class GatewayError(local.LocalGatewayException):  # type: ignore[misc]
        def __init__(self, status: int, code: str, message: str, origin: str | None) -> None:
            # As the template's Gateway Responses: the caller's origin is echoed on the
            # gateway's own errors (no data, no credentials), whichever origin it is.
            echoed = (origin,) if origin else ()
            headers = {"Content-Type": "application/json", **cors_headers(origin, echoed)}
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            super().__init__(headers, body)
            self.CODE = status

    class Gateway(local.LocalGateway):  # type: ignore[misc]
        def handle_request(
            self, method: str, path: str, headers: dict[str, str], body: bytes | None
        ) -> Any:
            origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
            if console is not None and console_files.handles(path.split("?", 1)[0]):
                return console(method, path, body)  # the staff console: files, not routes
            try:
                return super().handle_request(method, path, headers, body)
            except local.ForbiddenError:
                raise GatewayError(404, "not_found", "no such route", origin) from None
            except local.NotAuthorizedError as error:
                message = "a valid cabinet token is required"
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    message = json.loads(error.body or b"{}")["error"]["message"]
                raise GatewayError(401, "unauthenticated", message, origin) from None

    local.LocalGateway = Gateway


ConsoleServer = Callable[[str, str, "bytes | None"], dict[str, Any]]


def _console_server(aws_port: int) -> ConsoleServer:
    """The console's files and its local-only sign-in, which mints tokens from the local
    user pool as `dev-token` does."""

    def mint(email: str, name: str | None, staff: bool) -> str:
        return dev_token(email, staff, aws_port, name)

    def serve_console(method: str, path: str, body: bytes | None) -> dict[str, Any]:
        return console_files.respond(method, path, body, mint)

    return serve_console


def ports_in_use(api_port: int, aws_port: int) -> str | None:
    """What to say when another process holds a port this stack needs (a second
    `make run` used to print "Port 4599 is in use" and hang)."""
    import socket

    for port in (aws_port, api_port):
        with socket.socket() as probe:
            # As the servers bind: a port left in TIME_WAIT by a stack just stopped is
            # free to them, and only a listener makes the bind fail.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return (
                    f"Port {port} is in use (another stack?). Start this one beside it: "
                    f"make run PORT={api_port + 100} AWS_PORT={aws_port + 100}"
                )
    return None


def _looks_like_jwt(token: str) -> bool:
    parts = token.removeprefix("Bearer ").split(".")
    if len(parts) != 3:
        return False
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(payload, dict)


def serve(stack: LocalStack) -> int:
    """Run the stack until Ctrl-C; returns the exit status."""
    from chalice import local
    from chalice.cli.factory import CLIFactory

    from devtools.moto_process import MotoProcess, SetAsideAsItWarms, freeze_what_survives

    aws_port, api_port = stack.aws_port, stack.api_port
    if busy := ports_in_use(api_port, aws_port):
        print(busy, file=sys.stderr, flush=True)
        return 1
    point_boto3_at_moto(aws_port)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    # Known and handled: the handlers demand claims themselves (see README, local stack).
    warnings.filterwarnings("ignore", message="CognitoUserPoolAuthorizer is not a supported")
    moto = MotoProcess(aws_port)
    moto.start()
    server = None
    tee: local_metrics.EmfTee | None = None
    stop_workers = threading.Event()
    try:
        os.environ.update(bootstrap(aws_port))
        # The SES stand-in: every mail the stack would send is a file here (API.md).
        os.environ.setdefault("OUTBOX_DIR", str(REPO / "outbox"))
        # Escalations link to the console this stack serves (R2.9).
        os.environ.setdefault("CONSOLE_URL", f"http://127.0.0.1:{api_port}/console/")
        os.environ.setdefault("API_URL", f"http://127.0.0.1:{api_port}")  # rating links
        factory = CLIFactory(project_dir=str(REPO), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=STAGE)
        app = config.chalice_app
        # Before any thread appends a log key: one invocation's keys per thread.
        local_metrics.one_log_context_per_thread(obs.logger)
        original = local.LocalGatewayAuthorizer
        local.LocalGatewayAuthorizer = lambda app_object: _StrictLocalAuthorizer(  # type: ignore
            original(app_object)
        )
        install_gateway_responses(local, _console_server(aws_port))
        server = local.create_local_server(app, config, "127.0.0.1", api_port)
        local_edge.install(server, local, app, config, after=SetAsideAsItWarms())
        stop = stop_workers
        for worker in (_print_notices, _sweep_every_minute, poll_queue):
            threading.Thread(target=worker, args=(stop,), daemon=True).start()
        inbox = REPO / "inbox"
        outbox = Path(os.environ["OUTBOX_DIR"])
        outbox.mkdir(parents=True, exist_ok=True)
        threading.Thread(
            target=mail_simulator.watch_outbox, args=(outbox, stop), daemon=True
        ).start()
        threading.Thread(target=watch_inbox, args=(inbox, stop), daemon=True).start()

        def _shutdown(*_: Any) -> None:
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, _shutdown)
        sys.stdout = tee = local_metrics.EmfTee(
            sys.stdout, local_metrics.metrics_file(api_port, aws_port)
        )
        freeze_what_survives()
        print(banner(stack, inbox), flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop_workers.set()
        if server is not None:
            server.server.server_close()
        moto.stop()
        print("local stack stopped", flush=True)
        if tee is not None:
            tee.close()
    return 0


def dev_token(email: str, staff: bool, aws_port: int, name: str | None = None) -> str:
    """An IdToken from the local user pool, creating the user on first use."""
    import boto3
    from botocore.exceptions import ClientError, EndpointConnectionError

    point_boto3_at_moto(aws_port)
    cognito = boto3.client("cognito-idp", region_name=REGION)
    try:
        pool = find_pool(cognito)
    except EndpointConnectionError:
        raise not_running(aws_port) from None
    if pool is None:
        raise SystemExit("the local stack has no user pool yet: start it with `make run`")
    pool_id = pool["Id"]
    client_id = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)[
        "UserPoolClients"
    ][0]["ClientId"]
    password = "Local-" + base64.b32encode(email.encode()).decode()[:12] + "9a"
    try:
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=email, Password=password, Permanent=True
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "UsernameExistsException":
            raise
    if name:  # the `name` attribute: what colleagues and customers see of this person
        cognito.admin_update_user_attributes(
            UserPoolId=pool_id, Username=email, UserAttributes=[{"Name": "name", "Value": name}]
        )
    if staff:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName="staff")
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    token: str = result["AuthenticationResult"]["IdToken"]
    return token


def banner(stack: LocalStack, inbox: Path) -> str:
    """What a user needs to talk to this stack, as commands to copy."""
    cli = ".venv/bin/python -m chalicelib"
    return "\n".join(
        [
            f"Local stack {stack.name}: API {stack.api_url}, AWS stand-in (moto) {stack.aws_url}",
            f"Staff console: {stack.api_url}/console/ (a local sign-in page, no password)",
            "In another terminal, name this stack once, then every command talks to it:",
            f"  export {ENV_VAR}={stack.name}",
            f"  API=$({cli} dev-url)",
            f"  TOKEN=$({cli} dev-token --email you@example.com)",
            '  curl -s -X POST "$API/tickets" -H "Authorization: $TOKEN" '
            "-H 'Content-Type: application/json' "
            '-d \'{"subject": "Hi", "text": "FTP is down"}\'',
            f"  {cli} replay ../shared/corpus/human-mail",
            f"Drop .eml files into {inbox}/ to receive them as e-mail;"
            f" each moves to {inbox}/done/ once stored ({inbox}/failed/ if it cannot be).",
            "State lives in memory: stopping the stack forgets every ticket and mail.",
            "Ctrl-C stops everything.",
        ]
    )
