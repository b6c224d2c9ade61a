"""The browser tests' watch on the Content-Security-Policy: whatever the browser refused under it (an inline
style or script without the nonce, another origin) is reported on its console, and fails the test."""

from __future__ import annotations

from typing import Any

REFUSAL = "Content Security Policy"  # in every refusal Chromium logs ("... violates the following ...")


def watch_csp(context: Any, refusals: list[str] | None = None) -> list[str]:
    """Collect the refusals of every page of a Playwright browser context into `refusals` (returned)."""
    seen = [] if refusals is None else refusals
    context.on("console", lambda message: seen.append(message.text) if REFUSAL in message.text else None)
    return seen
