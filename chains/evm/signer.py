"""A local HD signer for EVM (development and tests): BIP-44 keys from a mnemonic, held only in memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from chains.base import Family, SignedTx

# Deposit addresses live on account 0 of coin type 60; the gas wallet that tops them up is account 1, so
# the two can never collide at any index.
DEPOSIT_PATH: Final = "m/44'/60'/0'/0/{index}"
GAS_WALLET_PATH: Final = "m/44'/60'/1'/0/0"
GAS_WALLET: Final = "gas-wallet"  # the `key` of an EvmUnsigned paid from the gas wallet

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True, slots=True)
class Fees:
    """Per-gas prices of one transaction: EIP-1559 (max fee + priority fee) or legacy (gas price)."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    def __post_init__(self) -> None:
        eip1559 = self.max_fee_per_gas is not None or self.max_priority_fee_per_gas is not None
        if eip1559 == (self.gas_price is not None):
            raise ValueError("fees are either EIP-1559 (max fee and priority fee) or legacy (gas price)")
        if eip1559:
            if self.max_fee_per_gas is None or self.max_priority_fee_per_gas is None:
                raise ValueError("EIP-1559 fees need both the max fee and the priority fee")
            if not 0 <= self.max_priority_fee_per_gas <= self.max_fee_per_gas:
                raise ValueError("the priority fee must be between 0 and the max fee")
        elif self.gas_price is not None and self.gas_price < 0:
            raise ValueError("a gas price cannot be negative")

    @property
    def is_eip1559(self) -> bool:
        return self.gas_price is None

    @property
    def per_gas_cap(self) -> int:
        """The most one unit of gas can cost."""
        return self.gas_price if self.gas_price is not None else self.max_fee_per_gas  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class EvmUnsigned:
    """Everything a signature covers, plus the key that signs: a deposit index or GAS_WALLET."""

    key: int | str
    chain_id: int
    nonce: int
    to: str
    value: int
    gas: int
    fees: Fees
    data: bytes = b""

    def __post_init__(self) -> None:
        if isinstance(self.key, bool) or not (
            (isinstance(self.key, int) and self.key >= 0) or self.key == GAS_WALLET
        ):
            raise ValueError(f"key must be a deposit index >= 0 or {GAS_WALLET!r}, not {self.key!r}")
        if min(self.nonce, self.value, self.gas, self.chain_id) < 0:
            raise ValueError("nonce, value, gas and chain id cannot be negative")

    @property
    def fee_cap(self) -> int:
        """The most the transaction can pay in fees, in wei (the value is on top)."""
        return self.gas * self.fees.per_gas_cap

    def as_dict(self) -> dict[str, Any]:
        """The transaction in eth_account's field names."""
        fields: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "to": to_checksum_address(self.to),
            "value": self.value,
            "gas": self.gas,
            "data": self.data,
        }
        if self.fees.is_eip1559:
            fields["type"] = 2
            fields["maxFeePerGas"] = self.fees.max_fee_per_gas
            fields["maxPriorityFeePerGas"] = self.fees.max_priority_fee_per_gas
        else:
            fields["gasPrice"] = self.fees.gas_price
        return fields


class LocalHDSigner:
    """The Signer protocol for EVM from a BIP-39 mnemonic.

    The mnemonic is turned into a seed once (PBKDF2 is slow) and then forgotten; each key is derived once
    and cached. Nothing is written anywhere: a production deployment puts an HSM behind the same protocol.
    """

    family = Family.EVM

    def __init__(self, mnemonic: str, passphrase: str = "") -> None:
        self._seed = seed_from_mnemonic(mnemonic, passphrase)
        self._accounts: dict[str, LocalAccount] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show key material in logs or tracebacks
        return "LocalHDSigner(<mnemonic hidden>)"

    def _account(self, path: str) -> LocalAccount:
        with self._lock:
            account = self._accounts.get(path)
            if account is None:
                account = Account.from_key(key_from_seed(self._seed, path))
                self._accounts[path] = account
            return account

    def _account_for(self, key: int | str) -> LocalAccount:
        if key == GAS_WALLET:
            return self._account(GAS_WALLET_PATH)
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise ValueError(f"not a deposit index: {key!r}")
        return self._account(DEPOSIT_PATH.format(index=key))

    def address(self, index: int) -> str:
        """The EIP-55 deposit address at m/44'/60'/0'/0/index."""
        return self._account_for(index).address

    def gas_wallet_address(self) -> str:
        """The address that pays deposit addresses the gas of their refunds."""
        return self._account(GAS_WALLET_PATH).address

    def sign(self, unsigned: EvmUnsigned) -> SignedTx:
        account = self._account_for(unsigned.key)
        signed = account.sign_transaction(unsigned.as_dict())
        return SignedTx(
            raw=bytes(signed.raw_transaction),
            txid="0x" + bytes(signed.hash).hex(),
            nonce=unsigned.nonce,
            sender=account.address,
            fee_cap=unsigned.fee_cap,
            extra={
                "chain_id": unsigned.chain_id,
                "key": unsigned.key,
                "to": to_checksum_address(unsigned.to),
            },
        )
