"""Accounts: the user's refund destinations (whitelist, screening, cooling-off), second factors, staff roles,
throttling (the client IP, when a login lockout ends) and the user-side error type. Imports models and
onchain only."""
