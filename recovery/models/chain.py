"""What the exchange knows about chains: networks, listed assets, deposit addresses, deposits, scan state."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from chains.base import Transfer
from recovery.models.fields import BaseUnitsField


class Family(models.TextChoices):
    EVM = "evm", "EVM"
    BITCOIN = "bitcoin", "Bitcoin"


class Network(models.Model):
    """A chain the exchange reads and may pay on. Chain parameters are data, not code."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    family = models.CharField(max_length=16, choices=Family.choices)
    chain_id = models.PositiveBigIntegerField(null=True, blank=True)
    confirmations = models.PositiveIntegerField(help_text="Blocks on top before a deposit is acted on.")
    native_symbol = models.CharField(max_length=16)
    native_decimals = models.PositiveSmallIntegerField(default=18)
    deposits_enabled = models.BooleanField(
        default=True, help_text="The exchange credits deposits on this network (else: wrong network)."
    )
    scan_enabled = models.BooleanField(default=False)
    rpc_url = models.CharField(max_length=300, blank=True, help_text="Overridden by env RPC_URL_<SLUG>.")
    explorer_tx_url = models.CharField(max_length=300, blank=True, help_text="With {txid} placeholder.")
    options = models.JSONField(default=dict, blank=True, help_text="eip1559, poa, traces, scan_batch ...")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def explorer_link(self, txid: str) -> str:
        return self.explorer_tx_url.replace("{txid}", txid) if self.explorer_tx_url and txid else ""


class ListedAsset(models.Model):
    """The exchange's supported-asset registry: what the normal deposit system credits."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="listed_assets")
    symbol = models.CharField(max_length=20)
    contract = models.CharField(max_length=100, blank=True, help_text="Empty for the native coin.")
    decimals = models.PositiveSmallIntegerField()
    min_deposit = BaseUnitsField(default=0)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["network", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["network", "contract"], name="listed_asset_unique_contract"),
            models.CheckConstraint(condition=Q(min_deposit__gte=0), name="listed_asset_min_deposit_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} on {self.network.slug}"


class DepositAddress(models.Model):
    """An address the exchange's wallet system assigned; the key is derived from `derivation_index`."""

    family = models.CharField(max_length=16, choices=Family.choices)
    address = models.CharField(max_length=100)
    memo = models.CharField(max_length=64, blank=True, help_text="Tag of a shared address; empty if own.")
    owner_ref = models.CharField(
        max_length=64, db_index=True, help_text="The exchange account it belongs to."
    )
    derivation_index = models.PositiveBigIntegerField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["family", "address", "memo"], name="deposit_address_unique"),
        ]
        indexes = [models.Index(fields=["address"], name="deposit_address_addr_idx")]

    def __str__(self) -> str:
        return f"{self.address}{'#' + self.memo if self.memo else ''}"

    @property
    def shared(self) -> bool:
        return bool(self.memo)


class DepositStatus(models.TextChoices):
    PENDING = "pending", "Waiting for confirmations"
    CONFIRMED = "confirmed", "Confirmed"
    ORPHANED = "orphaned", "Orphaned by a reorg"


class DepositClass(models.TextChoices):
    LISTED = "listed", "Listed asset (normal deposit system)"
    BELOW_MINIMUM = "below_minimum", "Listed asset below the minimum deposit"
    UNSUPPORTED_TOKEN = "unsupported_token", "Unsupported token"
    NFT = "nft", "NFT"
    WRONG_NETWORK = "wrong_network", "Wrong network"


class TokenStandard(models.TextChoices):
    NATIVE = "native", "Native coin"
    ERC20 = "erc20", "ERC-20"
    ERC721 = "erc721", "ERC-721"
    ERC1155 = "erc1155", "ERC-1155"


class Disposition(models.TextChoices):
    UNDECIDED = "", "Not decided yet"
    NORMAL_CREDIT = "normal_credit", "Left to the normal deposit system"
    AUTO_RETURN = "auto_return", "Auto-return"
    MANUAL_REVIEW = "manual_review", "Manual review"
    IGNORED = "ignored", "Ignored (spam, dust or no recoverable value)"
    USER_CASE = "user_case", "Claimed by a user's case"


class Deposit(models.Model):
    """One transfer that reached a deposit address, as a chain recorded it."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="deposits")
    txid = models.CharField(max_length=100)
    index = models.BigIntegerField(
        help_text="Log index (EVM), vout (Bitcoin), negative for native EVM value."
    )
    sub_index = models.PositiveIntegerField(default=0, help_text="Item of an ERC-1155 batch.")
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=100, blank=True)
    sender = models.CharField(max_length=100, blank=True)
    senders = models.JSONField(default=list, blank=True, help_text="All input addresses (Bitcoin).")
    recipient = models.CharField(max_length=100)
    deposit_address = models.ForeignKey(
        DepositAddress, null=True, blank=True, on_delete=models.PROTECT, related_name="deposits"
    )
    standard = models.CharField(max_length=16, choices=TokenStandard.choices)
    contract = models.CharField(max_length=100, blank=True)
    token_id = BaseUnitsField(null=True, blank=True)
    amount = BaseUnitsField()
    tokens = models.JSONField(default=list, blank=True, help_text="Token payloads on the output (Bitcoin).")
    classification = models.CharField(max_length=24, choices=DepositClass.choices, blank=True)
    status = models.CharField(max_length=16, choices=DepositStatus.choices, default=DepositStatus.PENDING)
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True, default="")
    disposition_reason = models.CharField(max_length=200, blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    # Triage that failed (a bug, a value the policy cannot handle): parked with its error for staff to
    # see, and tried again with backoff; the other deposits go on.
    triage_error = models.TextField(blank=True)
    triage_attempts = models.PositiveIntegerField(default=0)
    triage_after = models.DateTimeField(null=True, blank=True, help_text="Not tried again before this.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "txid", "index", "sub_index"], name="deposit_unique_per_network_tx_index"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_gt_0"),
        ]
        indexes = [
            models.Index(fields=["network", "block_number"], name="deposit_network_block_idx"),
            models.Index(fields=["txid"], name="deposit_txid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.network.slug}:{self.txid}:{self.index}"


class ScanCursor(models.Model):
    """How far a network has been scanned: the last block whose transfers are recorded."""

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="cursor")
    last_block = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.network.slug} scanned to {self.last_block}"


class ScannedBlock(models.Model):
    """Hashes of recently scanned blocks, compared on every scan to detect reorgs."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="scanned_blocks")
    number = models.BigIntegerField()
    hash = models.CharField(max_length=100)
    parent_hash = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "number"], name="scanned_block_unique_height"),
        ]

    def __str__(self) -> str:
        return f"{self.network.slug} #{self.number}"


class UnreadTransferLog(models.Model):
    """A log with a transfer topic that no decoder reads and that names one of our deposit addresses:
    money may have arrived that nobody can see. Kept raw for a person to classify (a `legacy` token
    rule makes the scanner and claims read such a contract's logs from then on)."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="unread_logs")
    txid = models.CharField(max_length=100)
    index = models.PositiveIntegerField(help_text="The log's index in its block.")
    block_number = models.BigIntegerField(null=True, blank=True)
    contract = models.CharField(max_length=100)
    topics = models.JSONField(default=list)
    data = models.TextField(blank=True)
    mentions = models.JSONField(default=list, help_text="Our deposit addresses it names.")
    reason = models.CharField(max_length=200)
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "txid", "index"], name="unread_log_unique"),
        ]

    def __str__(self) -> str:
        return f"unread log {self.txid}:{self.index} on {self.network.slug}"


def transfer_columns(transfer: Transfer) -> dict[str, Any]:
    """The deposit columns a chain transfer fills: the scanner and a user's claim record the same row."""
    return {
        "txid": transfer.txid,
        "index": transfer.index,
        "sub_index": transfer.sub_index,
        "block_number": transfer.block_number,
        "block_hash": transfer.block_hash or "",
        "sender": transfer.sender or "",
        "senders": list(transfer.senders),
        "recipient": transfer.recipient,
        "standard": str(transfer.standard),
        "contract": transfer.contract or "",
        "token_id": transfer.token_id,
        "amount": transfer.amount,
        "tokens": list(transfer.tokens),
    }
