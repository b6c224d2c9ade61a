"""What a user does on their own: sign up, write to staff on a case, answer a question, change the refund
destination, cancel."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from recovery.accounts.destinations import destination_prepare, destination_record
from recovery.accounts.errors import UserError
from recovery.audit.roles import Actor
from recovery.cases.actions import (
    REFUND_ADDRESS_REQUEST,
    case_cancel,
    case_change_destination,
    case_resume_after_answer,
    open_request,
)
from recovery.cases.ownership import ownership_proven
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


def destination_change(
    *, user: Any, case: RecoveryCase, address: str, memo: str, otp_code: str
) -> RecoveryCase:
    """Change a case's refund destination: checks first, then the workflow service (which voids approvals)."""
    if case.is_closed:
        raise UserError("case_closed", "This case is closed: its refund destination can no longer change.")
    checked = destination_prepare(
        user=user, network=case.network, address=address, memo=memo, otp_code=otp_code
    )
    with transaction.atomic():
        try:
            changed = case_change_destination(
                case_id=case.pk,
                actor=Actor.case_owner(user),
                destination=checked.address,
                memo=checked.memo,
                confirmed_at=timezone.now(),  # the second factor confirmed exactly this destination
            )
        except WorkflowError as refused:
            raise UserError("destination_locked", f"The destination cannot change now: {refused}.") from None
        destination_record(user=user, family=case.network.family, address=checked.address, memo=checked.memo)
        if open_request(changed) == REFUND_ADDRESS_REQUEST:
            case_resume_after_answer(case=changed, actor=Actor.case_owner(user), answer="refund address set")
    changed.refresh_from_db()
    return changed
