"""Staff pages: the recovery queue, decisions, SLAs and reports."""
