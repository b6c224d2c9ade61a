"""What a case waits for and who must act, in the words of staff and of the user (MOVED_ON_BY's details)."""

from __future__ import annotations

from recovery.accounts.destinations import COOLING_OFF
from recovery.cases.actions import REFUND_ADDRESS_REQUEST, open_request
from recovery.cases.workflow import approvals_required, needs_refund_destination, valid_approver_ids
from recovery.models import DepositStatus, RecoveryCase, Refund, RefundState, Resolution, State


def _live_refund(case: RecoveryCase) -> Refund | None:
    return Refund.objects.filter(case=case).order_by("-created_at").first()


def _deposit_confirming(case: RecoveryCase) -> bool:
    return case.deposit is not None and case.deposit.status == DepositStatus.PENDING


def staff_waiting(case: RecoveryCase) -> str:
    """One line for the staff case page and the queue: what the case waits for, and who acts next."""
    state = State(case.state)
    if state == State.NEEDS_INFO:
        if open_request(case) == REFUND_ADDRESS_REQUEST:
            return "Waiting for the user's refund address."
        return "Waiting for the user's answer."
    if state == State.AWAITING_REVIEW:
        if needs_refund_destination(case):
            who = "ask the user for one" if case.user_id else "the owner is unknown"
            return f"No refund destination yet ({who}): an on-chain return cannot be proposed."
        if _deposit_confirming(case):
            return "The deposit is still confirming: an approved refund waits for its confirmation depth."
        return "Waiting for an agent to propose a resolution."
    if state == State.AWAITING_APPROVAL:
        missing = approvals_required(case) - len(valid_approver_ids(case))
        return f"Waiting for {missing} more approver{'s' if missing != 1 else ''} (never the proposer)."
    if state == State.APPROVED:
        if case.resolution == Resolution.ACCOUNT_CREDIT:
            return "Waiting for staff to credit the account and record it (Mark credited)."
        if _deposit_confirming(case):
            return "Approved: the refund is queued once the deposit reaches its confirmation depth."
        return "Approved: the refund is being queued."
    refund = _live_refund(case)
    detail = f" ({refund.last_error})" if refund is not None and refund.last_error else ""
    if state == State.REFUND_QUEUED:
        return f"Refund queued: the executor signs and sends it{detail}."
    if state == State.REFUND_BROADCAST:
        return "Refund sent: waiting for its confirmations."
    if state == State.NEEDS_REVIEW:
        return f"Stopped before paying or unclear: an approver must check the chain{detail}."
    if state == State.REFUND_FAILED:
        return "The refund failed: send the case back to review or reject it."
    return ""


def user_waiting(case: RecoveryCase) -> str:
    """The user's 'what happens next' where it depends on more than the state ('' to use the state's)."""
    state = State(case.state)
    if state == State.NEEDS_INFO and open_request(case) == REFUND_ADDRESS_REQUEST:
        return "Set a refund address below: we cannot send your funds back until you do."
    if state == State.AWAITING_REVIEW and needs_refund_destination(case) and case.user_id:
        return "Support reviews the case. Set a refund address below so a return can be proposed."
    if state == State.APPROVED and _deposit_confirming(case):
        return "Approved. The refund is queued as soon as your deposit has its confirmations."
    refund = _live_refund(case)
    if refund is None:
        return ""
    cooling = refund.state == RefundState.QUEUED and refund.last_error.startswith(COOLING_OFF)
    if state == State.REFUND_QUEUED and cooling:
        return "The refund waits out your new address's cooling-off period, then it is sent."
    if state == State.NEEDS_REVIEW and refund.last_error and not refund.tx_hash:
        return f"We stopped the refund before anything was sent: {refund.last_error}. A person checks it."
    return ""
