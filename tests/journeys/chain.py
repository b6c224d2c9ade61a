"""The chain as people use it: wallets send tokens in transactions; anyone can read what the chain holds."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chains.evm.devnet import Anvil, DeployedContract

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


def topic_of(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


@dataclass(frozen=True)
class Transfer:
    token: str
    sender: str
    recipient: str
    amount: int
    tx_hash: str
    block: int


class Chain:
    """anvil, reached only over its RPC: transactions from its funded wallets, and reads (eth_getLogs)."""

    def __init__(self, node: Anvil, contracts: dict[str, DeployedContract]) -> None:
        self.node = node
        self.contracts = contracts
        self._unused_wallets = list(node.accounts[1:])

    def wallet(self) -> str:
        """A funded wallet nobody has used in this run (each journey's depositor is somebody new)."""
        return self._unused_wallets.pop(0)

    @staticmethod
    def new_address() -> str:
        """A fresh address of the user's own wallet (no history: every transfer to it is a refund)."""
        return to_checksum_address(Account.create().address)

    def send_tokens(self, token: str, *, sender: str, to: str, amount: int) -> str:
        """The wallet gets `amount` of the token (minted to it) and sends it to `to`; returns the txid."""
        contract = self.contracts[token]
        self.node.transact(contract, "mint", sender, amount)
        txid = self.node.transact(contract, "transfer", to, amount, sender=sender)
        receipt = self.node.wait_receipt(txid, timeout=30)
        assert receipt["status"] == "0x1", f"the deposit reverted: {receipt}"
        return txid

    def balance(self, token: str, address: str) -> int:
        return int(self.node.call(self.contracts[token], "balanceOf", address))

    def transfers(self, token: str, *, to: str | None = None, sender: str | None = None) -> list[Transfer]:
        """Every Transfer log of the token to / from the given addresses, from genesis to the head."""
        topics: list[str | None] = [TRANSFER_TOPIC, topic_of(sender) if sender else None]
        topics.append(topic_of(to) if to else None)
        contract = self.contracts[token].address
        logs = self.node.rpc.call(
            "eth_getLogs", [{"address": contract, "fromBlock": "0x0", "toBlock": "latest", "topics": topics}]
        )
        return [
            Transfer(
                token=token,
                sender=to_checksum_address("0x" + log["topics"][1][-40:]),
                recipient=to_checksum_address("0x" + log["topics"][2][-40:]),
                amount=int(log["data"], 16),
                tx_hash=log["transactionHash"],
                block=int(log["blockNumber"], 16),
            )
            for log in logs
        ]
