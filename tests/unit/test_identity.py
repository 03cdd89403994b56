"""Who is calling: only token claims count (R1.4); group claim shapes from API Gateway."""

import pytest

from chalicelib.domain.identity import parse_groups, principal_from_claims, require_staff
from chalicelib.errors import Forbidden, Unauthenticated


def test_request_without_claims_is_unauthenticated() -> None:
    for claims in (None, {}):
        with pytest.raises(Unauthenticated):
            principal_from_claims(claims)


def test_claims_without_subject_are_unauthenticated() -> None:
    with pytest.raises(Unauthenticated):
        principal_from_claims({"cognito:username": "anna", "sub": ""})


def test_access_tokens_are_not_accepted_as_identity() -> None:
    with pytest.raises(Unauthenticated):
        principal_from_claims({"sub": "s", "token_use": "access"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["staff"], {"staff"}),
        ("staff", {"staff"}),
        ("[staff admins]", {"staff", "admins"}),
        ('["staff","admins"]', {"staff", "admins"}),
        ("staff,admins", {"staff", "admins"}),
        (None, set()),
        (42, set()),
    ],
)
def test_groups_claim_is_read_in_every_shape_api_gateway_uses(raw: object, expected: set) -> None:
    assert parse_groups(raw) == expected


def test_customer_on_a_staff_route_is_forbidden_not_unauthenticated() -> None:
    customer = principal_from_claims({"sub": "s"})
    with pytest.raises(Forbidden):
        require_staff(customer)
    staff = principal_from_claims({"sub": "t", "cognito:groups": "[staff]"})
    assert require_staff(staff) is staff
