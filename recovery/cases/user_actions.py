"""What a user does on their own: sign up, write to staff on a case, answer a question, cancel."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from recovery.accounts.errors import UserError
from recovery.cases.actions import (
    REFUND_ADDRESS_REQUEST,
    case_cancel,
    case_resume_after_answer,
    open_request,
)
from recovery.cases.ownership import ownership_proven
from recovery.cases.roles import Actor
from recovery.cases.workflow import WorkflowError
from recovery.models import CaseMessage, RecoveryCase, State, UserProfile

MAX_MESSAGE = 5000


@transaction.atomic
def account_signup(*, username: str, email: str, password: str) -> Any:
    """A new user with a profile; the exchange links its account reference (deposit addresses) later."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    UserProfile.objects.create(user=user, account_ref=f"WEB-{secrets.token_hex(8).upper()}")
    return user


@transaction.atomic
def case_message_post(*, user: Any, case: RecoveryCase, body: str) -> CaseMessage:
    """A message to staff; it answers an open question and sends the case back to review."""
    body = (body or "").strip()
    if not body:
        raise UserError("empty_message", "Write a message first.", "body")
    if len(body) > MAX_MESSAGE:
        raise UserError("too_long", f"Keep a message under {MAX_MESSAGE} characters.", "body")
    if case.is_closed:
        raise UserError("case_closed", "This case is closed. File a new case if you need more help.")
    message = CaseMessage.objects.create(case=case, author=user, from_staff=False, body=body)
    waiting_for_proof = case.claim.get("needs_ownership_proof") and not ownership_proven(case)
    # A message does not answer a request for a refund address: only setting one does.
    waiting_for_address = open_request(case) == REFUND_ADDRESS_REQUEST
    if case.state == State.NEEDS_INFO and not waiting_for_proof and not waiting_for_address:
        case_resume_after_answer(case=case, actor=Actor.case_owner(user), answer=f"message {message.pk}")
    return message


def case_cancel_by_owner(*, user: Any, case: RecoveryCase) -> RecoveryCase:
    try:
        return case_cancel(case_id=case.pk, actor=Actor.case_owner(user))
    except WorkflowError:
        raise UserError(
            "cannot_cancel", "This case can no longer be cancelled: it was approved or is closed.", status=409
        ) from None
