"""What the user is told comes next, by state and resolution."""

from __future__ import annotations

import pytest

from recovery.cases.selectors import next_step
from recovery.models import Resolution, State
from tests.factories import make_case, make_network

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        (Resolution.ACCOUNT_CREDIT, "credits the funds to your exchange account"),
        (Resolution.ONCHAIN_RETURN, "The refund is being queued"),
    ],
)
def test_an_approved_case_says_what_comes_next_for_its_resolution(resolution, expected):
    case = make_case(make_network(), state=State.APPROVED, resolution=resolution)
    assert expected in next_step(case)
