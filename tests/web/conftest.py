"""User page test fixtures (shared with the API tests): alice logged in, and the claim setting."""

import pytest
from django.test import Client

from tests.api.claims import anvil_network, claim_setup  # noqa: F401


@pytest.fixture
def alice(users) -> Client:
    client = Client()
    client.force_login(users.alice)
    return client
