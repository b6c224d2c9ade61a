"""Browser test fixtures (shared with the API tests)."""

from tests.api.claims import anvil_network, claim_setup  # noqa: F401
