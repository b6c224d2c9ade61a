"""The REST API (DRF), user-scoped. Thin: each view calls one service or selector of cases/ or accounts/."""
