"""Audit: the append-only, hash-chained event log, the actors that appear in it (roles) and the standard
reason codes it carries. The lowest layer above the models: every other package may record here."""
