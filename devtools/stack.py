"""Which local stack a command talks to: one name, used by every command.

A local stack is named by its two loopback ports, the API's and the AWS stand-in's.
Every command takes `--port` and `--aws-port`; without them it reads
`SUPPORT_INTAKE_LOCAL=<api port>:<aws port>` (the `make run` banner prints the line to
export); without that, the defaults 8000 and 4599.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV_VAR = "SUPPORT_INTAKE_LOCAL"
DEFAULT_API_PORT = 8000
DEFAULT_AWS_PORT = 4599
HOST = "127.0.0.1"


@dataclass(frozen=True)
class LocalStack:
    api_port: int = DEFAULT_API_PORT
    aws_port: int = DEFAULT_AWS_PORT

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    @property
    def name(self) -> str:
        """The value of SUPPORT_INTAKE_LOCAL that names this stack."""
        return f"{self.api_port}:{self.aws_port}"


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        help=f"the local API's port (default: ${ENV_VAR}, else {DEFAULT_API_PORT})",
    )
    parser.add_argument(
        "--aws-port",
        type=_port,
        default=None,
        help=f"the AWS stand-in's port (default: ${ENV_VAR}, else {DEFAULT_AWS_PORT})",
    )


def resolve(
    port: int | None, aws_port: int | None, env: Mapping[str, str] = os.environ
) -> LocalStack:
    """Flags first, then the environment variable, then the defaults."""
    named = from_name(env.get(ENV_VAR, ""))
    return LocalStack(
        api_port=port if port is not None else named.api_port,
        aws_port=aws_port if aws_port is not None else named.aws_port,
    )


def from_name(name: str) -> LocalStack:
    """`8100:4699` -> the stack on those ports; empty -> the defaults."""
    if not name.strip():
        return LocalStack()
    api, sep, aws = name.strip().partition(":")
    try:
        return LocalStack(_port(api), _port(aws) if sep else DEFAULT_AWS_PORT)
    except argparse.ArgumentTypeError as error:
        raise SystemExit(f"{ENV_VAR}={name!r}: {error} (expected <api port>:<aws port>)") from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value
