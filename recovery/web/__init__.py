"""User pages: filing and following recovery cases."""
