"""Deposits: scanning the chains into deposit rows, the watched set, address import, and triage (the return
policy, which opens auto cases). Imports models, onchain and cases; never payouts or the pages."""
