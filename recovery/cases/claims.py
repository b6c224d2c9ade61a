"""What the chain says about a claim, its category and the binding fee quote: the reads before filing.

Nothing here writes; the quote is a signed token that filing.claim_file verifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.core import signing

from chains.base import ChainError, InvalidTxid, Standard, Transfer, TransientChainError, TxNotFound, TxStatus
from recovery.accounts.errors import UserError
from recovery.audit.reasons import reason_text
from recovery.cases.fees import FeeQuote, fee_quote
from recovery.models import (
    AssetPrice,
    Category,
    DepositAddress,
    DepositClass,
    ListedAsset,
    Network,
    RecoveryCase,
    State,
    UserProfile,
)
from recovery.onchain.classify import Listing, deposit_class
from recovery.onchain.pricing import usd
from recovery.onchain.registry import chain_for

QUOTE_SALT = "recovery.fee-quote"
MAX_NOTE = 2000
CLASS_TO_CATEGORY = {
    DepositClass.WRONG_NETWORK: Category.WRONG_NETWORK,
    DepositClass.NFT: Category.NFT,
    DepositClass.UNSUPPORTED_TOKEN: Category.UNSUPPORTED_TOKEN,
    DepositClass.BELOW_MINIMUM: Category.BELOW_MINIMUM,
}
PROOF_QUESTION = (
    "This deposit reached an address that is not one of your own deposit addresses. Prove that you control "
    "the sending address by signing the ownership challenge on the case page."
)


@dataclass(frozen=True)
class Asset:
    symbol: str
    decimals: int | None


@dataclass(frozen=True)
class FoundTransfer:
    """A transfer of the transaction that reached one of the exchange's deposit addresses."""

    position: int
    transfer: Transfer
    deposit_address: DepositAddress
    own: bool
    classification: str
    category: str
    asset: Asset
    needs_ownership_proof: bool

    @property
    def amount_display(self) -> str:
        return format_amount(self.transfer.amount, self.asset.decimals)

    @property
    def problem(self) -> str:
        return "already_credited" if self.classification == DepositClass.LISTED else ""


@dataclass(frozen=True)
class Findings:
    network: Network
    txid: str
    confirmations: int
    block_number: int | None
    transfers: list[FoundTransfer] = field(default_factory=list)

    @property
    def confirmed(self) -> bool:
        return self.confirmations >= self.network.confirmations


@dataclass(frozen=True)
class Preview:
    findings: Findings
    chosen: FoundTransfer
    quote: FeeQuote
    quote_token: str
    existing_case: RecoveryCase | None


@dataclass(frozen=True)
class Filed:
    case: RecoveryCase
    created: bool
    message: str


AMOUNT_FORMAT = re.compile(r"[0-9]{1,78}(\.[0-9]{1,78})?|\.[0-9]{1,78}")


def format_amount(amount: int, decimals: int | None) -> str:
    if not decimals:
        return str(amount)
    text = f"{Decimal(amount).scaleb(-decimals):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_amount(text: str, decimals: int | None) -> int | None:
    """Base units of a decimal amount the user typed; None when empty."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    # Plain digits only: an exponent ("1e999999") would make the decimal arithmetic below take seconds or
    # overflow, and no wallet shows an amount that way.
    if not AMOUNT_FORMAT.fullmatch(text):
        raise UserError(
            "invalid_amount",
            "Enter the amount in digits with an optional decimal point, such as 12.5.",
            "amount",
        )
    value = Decimal(text)
    if value <= 0:
        raise UserError("invalid_amount", "Enter the positive amount you sent, such as 12.5.", "amount")
    return int(value.scaleb(decimals or 0))


# --- lookup ------------------------------------------------------------------------------------


def claim_lookup(*, user: Any, network: Network, txid: str) -> Findings:
    """What the chain says about a pasted txid, limited to the exchange's deposit addresses of the family."""
    txid = (txid or "").strip()
    if not txid or len(txid) > 100:
        raise UserError(
            "invalid_txid", "Paste the transaction id (hash) from your wallet or an explorer.", "txid"
        )
    try:
        lookup = chain_for(network).lookup_tx(txid)
    except InvalidTxid:
        example = "0x followed by 64 hex digits" if network.family == "evm" else "64 hex digits"
        raise UserError("invalid_txid", f"A {network.name} transaction id is {example}.", "txid") from None
    except TxNotFound:
        raise UserError(
            "tx_not_found",
            f"{network.name} has no transaction with this id. Check that you chose the network you sent on: "
            "the same id on another network is another transaction.",
            "txid",
            status=404,
        ) from None
    except (TransientChainError, ChainError):
        raise UserError(
            "chain_unavailable",
            f"We cannot reach {network.name} right now. Try again in a few minutes.",
            status=503,
        ) from None
    if lookup.status == TxStatus.PENDING:
        raise UserError(
            "tx_pending",
            "The transaction is not in a block yet. File your case once it is confirmed.",
            "txid",
            status=409,
        )
    if lookup.status == TxStatus.FAILED:
        raise UserError("tx_failed", reason_text("tx_failed"), "txid", status=422)
    found = _match_deposit_addresses(user, network, lookup.transfers)
    if not found:
        raise UserError("not_our_address", reason_text("not_our_address"), "txid", status=422)
    return Findings(network, lookup.txid, lookup.confirmations, lookup.block_number, found)


def _match_deposit_addresses(
    user: Any, network: Network, transfers: tuple[Transfer, ...]
) -> list[FoundTransfer]:
    """Transfers to deposit addresses of the network's family, the user's own addresses first."""
    recipients = {t.recipient for t in transfers if t.amount > 0}
    rows: dict[str, list[DepositAddress]] = {}
    for row in DepositAddress.objects.filter(family=network.family, address__in=recipients).order_by("memo"):
        rows.setdefault(row.address, []).append(row)
    account = UserProfile.objects.filter(user=user).values_list("account_ref", flat=True).first()
    listing = Listing.of(network)
    found = []
    for transfer in transfers:
        if transfer.amount <= 0 or transfer.recipient not in rows:
            continue  # zero-value transfers are address-poisoning spam, never a claim
        candidates = rows[transfer.recipient]
        own = next((r for r in candidates if account and r.owner_ref == account), None)
        found.append(describe(network, listing, transfer, own or candidates[0], own is not None, candidates))
    found.sort(key=lambda f: not f.own)
    return [replace(f, position=i) for i, f in enumerate(found)]


def describe(
    network: Network,
    listing: Listing,
    transfer: Transfer,
    address: DepositAddress,
    own: bool,
    rows: list[DepositAddress],
) -> FoundTransfer:
    contract = transfer.contract or ""
    klass = deposit_class(
        network=network,
        listing=listing,
        standard=str(transfer.standard),
        contract=contract,
        amount=transfer.amount,
        tokens=list(transfer.tokens),
    )
    shared = any(r.memo for r in rows)
    category = CLASS_TO_CATEGORY.get(klass, Category.UNSUPPORTED_TOKEN)
    if shared and klass != DepositClass.LISTED:
        category = Category.MISSING_MEMO
    elif address.retired_at is not None and klass != DepositClass.LISTED:
        category = Category.RETIRED_ADDRESS
    proof = not own or shared or address.retired_at is not None
    return FoundTransfer(0, transfer, address, own, klass, category, _asset_of(network, transfer), proof)


def _asset_of(network: Network, transfer: Transfer) -> Asset:
    """Symbol and decimals: the listing, the price table, else the token contract itself."""
    if transfer.standard == Standard.NATIVE:
        return Asset(network.native_symbol, network.native_decimals)
    contract = transfer.contract or ""
    for model in (ListedAsset, AssetPrice):
        row = model.objects.filter(network=network, contract__iexact=contract).first()
        if row is not None:
            return Asset(row.symbol, row.decimals)
    decimals = 0 if transfer.standard in (Standard.ERC721, Standard.ERC1155) else None
    try:
        meta = chain_for(network).token_metadata(contract)  # type: ignore[attr-defined]
    except (ChainError, AttributeError):
        return Asset("token", decimals)
    return Asset((meta.symbol or "token")[:20], decimals if decimals is not None else meta.decimals)


# --- preview and quote -------------------------------------------------------------------------


def claim_preview(
    *, user: Any, network: Network, txid: str, position: int | None = None, amount: str = ""
) -> Preview:
    """The lookup, the chosen transfer, its suggested category and the binding fee quote (signed)."""
    findings = claim_lookup(user=user, network=network, txid=txid)
    recoverable = [f for f in findings.transfers if not f.problem]
    if position is not None:
        if not 0 <= position < len(findings.transfers):
            raise UserError("invalid_choice", "Choose one of the transfers listed.", "position")
        chosen = findings.transfers[position]
    elif recoverable:
        chosen = recoverable[0]
    else:
        chosen = findings.transfers[0]
    if chosen.problem:
        raise UserError(
            "already_credited",
            reason_text("already_credited") + " If it is missing, contact support from your deposit history.",
            "txid",
            status=422,
        )
    _check_amount(chosen, amount)
    quote = fee_quote(
        category=chosen.category,
        network=network,
        contract=chosen.transfer.contract or "",
        amount=chosen.transfer.amount,
    )
    token = signing.dumps(
        {
            "user": user.pk,
            "network": network.slug,
            "txid": findings.txid,
            "index": chosen.transfer.index,
            "sub_index": chosen.transfer.sub_index,
            "category": chosen.category,
            "fee_amount": str(quote.fee_amount),
            "value_usd_cents": quote.value_usd_cents,
            "quote": quote.details,
            "view": _preview_summary(findings, chosen, quote),
        },
        salt=QUOTE_SALT,
        compress=True,
    )
    return Preview(findings, chosen, quote, token, open_case_of(network, chosen.transfer))


def _preview_summary(findings: Findings, chosen: FoundTransfer, quote: FeeQuote) -> dict[str, Any]:
    """What the filing page and the API show about a lookup (JSON; kept inside the signed quote)."""
    symbol = chosen.asset.symbol
    return {
        "network": findings.network.slug,
        "network_name": findings.network.name,
        "txid": findings.txid,
        "confirmations": findings.confirmations,
        "confirmations_required": findings.network.confirmations,
        "transfers": [
            {
                "position": f.position,
                "sender": f.transfer.sender or "",
                "senders": list(f.transfer.senders),
                "deposit_address": f.transfer.recipient,
                "your_address": f.own,
                "standard": str(f.transfer.standard),
                "contract": f.transfer.contract or "",
                "token_id": str(f.transfer.token_id) if f.transfer.token_id is not None else None,
                "symbol": f.asset.symbol,
                "amount": str(f.transfer.amount),
                "amount_display": f.amount_display,
                "classification": f.classification,
                "suggested_category": f.category,
                "problem": f.problem,
            }
            for f in findings.transfers
        ],
        "chosen": chosen.position,
        "category": chosen.category,
        "category_label": Category(chosen.category).label,
        "needs_ownership_proof": chosen.needs_ownership_proof,
        "fee": {
            "amount": str(quote.fee_amount),
            "amount_display": format_amount(quote.fee_amount, chosen.asset.decimals),
            "net_display": format_amount(quote.net_amount, chosen.asset.decimals),
            "symbol": symbol,
            "usd_cents": quote.details.get("fee_usd_cents"),
            "usd_display": usd(quote.details.get("fee_usd_cents")),
            "value_usd_display": usd(quote.details.get("value_usd_cents")),
            "value_usd_cents": quote.details.get("value_usd_cents"),
            "computation": quote.details.get("computation", ""),
            "charging": quote.details["charging"],
        },
    }


def _check_amount(chosen: FoundTransfer, amount: str) -> None:
    claimed = _parse_amount(amount, chosen.asset.decimals)
    actual = chosen.transfer.amount
    # Wallets round what they show: a claim within 1% of the chain's amount is the same transfer.
    if claimed is not None and abs(claimed - actual) * 100 > actual:
        raise UserError(
            "amount_mismatch",
            f"This transaction sent {chosen.amount_display} {chosen.asset.symbol}, not {amount}. Check the "
            "amount, or the transaction id if you sent more than once.",
            "amount",
            status=422,
        )


def open_case_of(network: Network, transfer: Transfer) -> RecoveryCase | None:
    return (
        RecoveryCase.objects.filter(
            deposit__network=network,
            deposit__txid__iexact=transfer.txid,
            deposit__index=transfer.index,
            deposit__sub_index=transfer.sub_index,
        )
        .exclude(state__in=[State.REJECTED, State.CANCELLED])
        .first()
    )
