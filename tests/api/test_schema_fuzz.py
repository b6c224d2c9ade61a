"""The user API fuzzed from its own OpenAPI schema (battery item 6): no 5xx, every answer as documented."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from recovery.models import CaseMessage, OwnershipChallenge, Refund, State
from recovery.wsgi import application
from tests.factories import make_case, make_deposit, make_network, make_user

# Examples per operation and identity: 11 operations x 2 identities x 100 = 2,200 requests (plus the
# authentication probes) in about 40 s; derandomize makes every run send the same requests.
MAX_EXAMPLES = 100

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
PATH, BODY = ParameterLocation.PATH, ParameterLocation.BODY

NETWORK = "fuzznet"
SENDER = "0x52908400098527886E0F7030069857D2E4169EE7"
NONCE = "5eed" * 8
OPEN = uuid.UUID("00000000-0000-4000-8000-000000000001")
PROVING = uuid.UUID("00000000-0000-4000-8000-000000000002")
APPROVED = uuid.UUID("00000000-0000-4000-8000-000000000003")
CLOSED = uuid.UUID("00000000-0000-4000-8000-000000000004")
BOBS = uuid.UUID("00000000-0000-4000-8000-00000000000b")
REFERENCES = [str(ref) for ref in (OPEN, PROVING, APPROVED, CLOSED, BOBS)]
# Values the fuzzer would never guess but the services only act on: a configured network, the deposit's
# sender, a well-formed destination, an open challenge's nonce.
KNOWN = {
    "network": NETWORK,
    "address": SENDER,
    "refund_destination": "0x5555555555555555555555555555555555555555",
    "nonce": NONCE,
}

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

# The rows are made once per operation (function-scoped fixture) and every example rolls back to them.
fuzz_settings = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def connection_kept_across_requests() -> Iterator[None]:
    """The test's transaction must outlive each request, as Django's own test client arranges."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def cases(db) -> None:
    """Alice owns a case in each kind of state; bob owns one she must never reach."""
    alice, bob = make_user("alice"), make_user("bob")
    # No node answers on this port: generated txids are refused on their shape before a node is asked.
    network = make_network(NETWORK, rpc_url="http://127.0.0.1:9")
    deposit = make_deposit(network, sender=SENDER)
    make_case(network, alice, reference=OPEN, deposit=deposit)
    proving = make_case(
        network,
        alice,
        reference=PROVING,
        state=State.NEEDS_INFO,
        deposit=make_deposit(network, sender=SENDER),
        claim={"needs_ownership_proof": True},
    )
    OwnershipChallenge.objects.create(
        case=proving,
        address=SENDER,
        destination=proving.refund_destination,
        nonce=NONCE,
        message=f"I own {SENDER}",
        method="eip191",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    CaseMessage.objects.create(case=proving, author=alice, body="Here is my wallet screenshot.")
    make_case(network, alice, reference=APPROVED, state=State.APPROVED, deposit=make_deposit(network))
    closed_deposit = make_deposit(network)
    closed = make_case(network, alice, reference=CLOSED, state=State.COMPLETED, deposit=closed_deposit)
    Refund.objects.create(
        case=closed,
        deposit=closed_deposit,
        network=network,
        destination=closed.refund_destination,
        standard="erc20",
        contract=closed_deposit.contract,
        amount=closed_deposit.amount,
        sender=closed_deposit.recipient,
    )
    make_case(network, bob, reference=BOBS, deposit=make_deposit(network, sender=SENDER))
    Token.objects.create(user=alice)


class AliceToken:
    """Alice's API token, read when a request is made: every test makes its own user and token."""

    def get(self, case, ctx) -> str:
        return Token.objects.get(user__username="alice").key

    def set(self, case, data: str, ctx) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


def negative_at(case, location: ParameterLocation) -> bool:
    return case.meta is not None and case.meta.is_negative_at(location)


def excluded_checks(case) -> list:
    """What is left out of schemathesis' full set of checks. The rest run on every response: no server
    error; status code, content type, headers and body as documented; schema-invalid input rejected;
    authentication enforced (sent again without and with wrong credentials)."""
    # Valid-by-schema input is still refused by the services (a txid must exist on the chain, a quote token
    # must be signed, a nonce must be open): the schema bounds shapes only, so "valid data is accepted" does
    # not apply to this API.
    excluded = [positive_data_acceptance]
    # A form cannot carry a body that is not an object (null, false, a number): it goes out as a form with
    # no fields, which is valid where every field is optional, so the server rightly accepts it.
    if not isinstance(case.body, dict) and case.media_type in FORMS and negative_at(case, BODY):
        excluded.append(negative_data_rejection)
    return excluded


def send(case, data) -> None:
    """Point some requests at real objects, then send the case and run every applicable check."""
    # A part generated to break the schema stays as generated: a known value could make it valid again.
    if case.path_parameters and "reference" in case.path_parameters and not negative_at(case, PATH):
        generated = case.path_parameters["reference"]
        case.path_parameters["reference"] = data.draw(st.sampled_from([*REFERENCES, generated]))
    if isinstance(case.body, dict) and not negative_at(case, BODY):
        for field, value in KNOWN.items():
            if field in case.body and data.draw(st.booleans()):
                case.body[field] = value
    # Throttling has its own tests; here the first few writes would turn every later request into a 429.
    cache.clear()
    # Each example starts from the same rows, so a failure replays exactly.
    with transaction.atomic():
        response = case.call_and_validate(excluded_checks=excluded_checks(case))
        transaction.set_rollback(True)
    if (case.path_parameters or {}).get("reference") == str(BOBS):
        assert response.status_code >= 400, (
            f"bob's case answered {response.status_code} to {case.operation.label}"
        )


@pytest.mark.django_db
@schema.parametrize()
@schema.given(data=st.data())
@schema.auth.apply(AliceToken, refresh_interval=None)
@fuzz_settings
def test_api_as_a_case_owner(case, data, cases):
    send(case, data)


# Without credentials, with a made-up session cookie (the schema declares one), or with a token nobody holds.
@pytest.mark.django_db
@schema.parametrize()
@schema.given(data=st.data())
@fuzz_settings
def test_api_signed_out(case, data, cases):
    if data.draw(st.booleans()):
        case.headers = {**(case.headers or {}), "Authorization": "Token " + "f" * 40}
    send(case, data)


# What the fuzzer found, kept as plain examples.


@pytest.fixture
def alice(cases) -> APIClient:
    client = APIClient()
    client.force_authenticate(Token.objects.get(user__username="alice").user)
    return client


@pytest.mark.django_db
def test_a_json_number_where_text_is_expected_is_refused(alice):
    response = alice.post(f"/api/cases/{OPEN}/messages/", {"body": 12}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid", "message": "Must be text.", "field": "body"}


@pytest.mark.django_db
def test_a_form_still_sends_its_values_as_text(alice):
    response = alice.post(f"/api/cases/{OPEN}/messages/", {"body": "12"})
    assert response.status_code == 201 and response.json()["body"] == "12"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["page=", "page=0", "page=last", "page_size=abc", "page_size=0"])
def test_a_malformed_page_is_refused_not_read_as_the_default(alice, query):
    response = alice.get(f"/api/cases/?{query}")
    assert response.status_code == 400 and response.json()["error"]["field"] == query.split("=")[0]
