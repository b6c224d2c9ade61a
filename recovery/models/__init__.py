"""The data model. Amounts are integers in base units; the rules that protect money are constraints."""

from recovery.models.accounts import UserProfile
from recovery.models.cases import (
    CLOSED_STATES,
    Approval,
    CaseMessage,
    Category,
    Origin,
    RecoveryCase,
    Resolution,
    State,
)
from recovery.models.chain import (
    Deposit,
    DepositAddress,
    DepositClass,
    DepositStatus,
    Family,
    ListedAsset,
    Network,
    ScanCursor,
    ScannedBlock,
    TokenStandard,
)
from recovery.models.events import GENESIS_HASH, CaseEvent, EventChainHead, Notification
from recovery.models.refunds import LIVE_REFUND_STATES, NonceCounter, Refund, RefundAttempt, RefundState

__all__ = [
    "CLOSED_STATES",
    "GENESIS_HASH",
    "LIVE_REFUND_STATES",
    "Approval",
    "CaseEvent",
    "CaseMessage",
    "Category",
    "Deposit",
    "DepositAddress",
    "DepositClass",
    "DepositStatus",
    "EventChainHead",
    "Family",
    "ListedAsset",
    "Network",
    "NonceCounter",
    "Notification",
    "Origin",
    "RecoveryCase",
    "Refund",
    "RefundAttempt",
    "RefundState",
    "Resolution",
    "ScanCursor",
    "ScannedBlock",
    "State",
    "TokenStandard",
    "UserProfile",
]
