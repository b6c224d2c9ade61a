"""Accounts: the user's refund destinations (whitelist, screening, cooling-off), second factors, staff roles
and the user-side error type. Imports models and onchain only."""
