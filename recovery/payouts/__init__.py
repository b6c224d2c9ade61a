"""Payouts: where money leaves. Executing approved cases, refunds and their own steps, the EVM and Bitcoin
payouts, nonces, gas top-ups, reconciliation. Imports models, onchain, accounts and cases; never the pages."""
