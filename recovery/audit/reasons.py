"""The standard rejection reasons: a fixed list, each with the plain-language text the user sees."""

from __future__ import annotations

REJECTION_REASONS: dict[str, str] = {
    "not_our_address": (
        "The transaction did not send funds to an address this exchange controls, so we cannot move them. "
        "Check the recipient address in a block explorer."
    ),
    "sent_to_contract": (
        "The funds went to a smart contract, not to one of our deposit addresses. "
        "Only the contract's owner can move them."
    ),
    "tx_failed": (
        "The transaction failed on-chain, so no funds arrived. "
        "Your wallet shows the fee as spent, but the tokens never left it."
    ),
    "already_credited": (
        "This deposit was already credited to an account. Look for it in your deposit history."
    ),
    "duplicate_case": "This deposit already has a recovery case. Follow that case instead.",
    "ownership_not_proven": (
        "We could not confirm that you control the sending address. "
        "You can file again with a signed ownership proof."
    ),
    "no_response": "We asked for more information and did not hear back in time. You can file a new case.",
    "value_below_cost": (
        "The deposit is worth less than the network cost of returning it, so a return would lose money. "
        "This is common for unsolicited airdrops."
    ),
    "sanctioned_destination": (
        "We cannot send funds to the refund address you gave. "
        "Contact support through the official site to change it."
    ),
    "unsupported_network": "We do not hold keys on this network for this address and cannot move the funds.",
    "deadline_passed": "The deposit is older than the recovery window for its category.",
    "spam_token": (
        "This token is a known spam or scam token. We do not return it, and you should not interact with it."
    ),
}


def reason_text(code: str) -> str:
    return REJECTION_REASONS.get(code, "")
