"""The users' mailboxes: the system's file-based e-mail backend writes every message into one folder."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # django.core.mail.backends.filebased writes one after each message
CODE = re.compile(r"Your confirmation code is (\d{6})\b")


@dataclass(frozen=True)
class Mail:
    key: tuple[str, int]  # (file, position): stable, files are only appended to
    to: tuple[str, ...]
    subject: str
    body: str


class Inbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def all(self) -> list[Mail]:
        mails = []
        for path in sorted(self.folder.glob("*.log")):
            for number, chunk in enumerate(path.read_bytes().split(SEPARATOR)):
                if not chunk.strip():
                    continue
                message = email.message_from_bytes(chunk.lstrip(b"\n"), policy=email.policy.default)
                body = message.get_body(preferencelist=("plain",))
                mails.append(
                    Mail(
                        key=(path.name, number),
                        to=tuple(a.strip().lower() for a in str(message.get("To", "")).split(",")),
                        subject=str(message.get("Subject", "")),
                        body=body.get_content() if body is not None else "",
                    )
                )
        return mails

    def of(self, address: str) -> list[Mail]:
        return [mail for mail in self.all() if address.lower() in mail.to]

    def seen(self, address: str) -> set[tuple[str, int]]:
        """The messages already in the mailbox (to tell the new ones apart later)."""
        return {mail.key for mail in self.of(address)}

    def wait_for(
        self,
        address: str,
        matches: Callable[[Mail], bool],
        *,
        besides: set[tuple[str, int]] = frozenset(),
        timeout: float = 60.0,
        what: str = "a matching e-mail",
    ) -> Mail:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.of(address) if m.key not in besides and matches(m)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                subjects = [m.subject for m in self.of(address) if m.key not in besides]
                raise AssertionError(f"{address} got no {what} within {timeout:.0f}s; new mail: {subjects}")
            time.sleep(0.3)

    def latest_code(self, address: str, *, besides: set[tuple[str, int]], timeout: float = 30.0) -> str:
        """The code of the newest confirmation-code e-mail that arrived after `besides` was taken."""
        mail = self.wait_for(
            address,
            lambda m: CODE.search(m.body) is not None,
            besides=besides,
            timeout=timeout,
            what="confirmation code",
        )
        return CODE.search(mail.body).group(1)
