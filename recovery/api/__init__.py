"""The REST API (DRF), user-scoped."""
