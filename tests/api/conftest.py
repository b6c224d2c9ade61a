"""User API test fixtures (shared with the page tests)."""

from tests.api.claims import anvil_network, claim_setup  # noqa: F401
