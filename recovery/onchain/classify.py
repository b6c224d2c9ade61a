"""What a recorded deposit is to the exchange: listed, below minimum, unsupported, NFT, wrong network."""

from __future__ import annotations

from dataclasses import dataclass

from recovery.models import DepositClass, ListedAsset, Network, TokenStandard


@dataclass(frozen=True)
class Listing:
    """The network's enabled listed assets, by contract ('' = native), with their minimum deposits."""

    minimums: dict[str, int]

    @classmethod
    def of(cls, network: Network) -> Listing:
        rows = ListedAsset.objects.filter(network=network, enabled=True).values_list(
            "contract", "min_deposit"
        )
        return cls({contract.lower(): int(minimum) for contract, minimum in rows})


def deposit_class(
    *, network: Network, listing: Listing, standard: str, contract: str, amount: int, tokens: list
) -> DepositClass:
    if not network.deposits_enabled:
        return DepositClass.WRONG_NETWORK
    if standard in (TokenStandard.ERC721, TokenStandard.ERC1155):
        return DepositClass.NFT
    if tokens:  # Omni, Runes, inscriptions, Counterparty riding on a Bitcoin output
        return DepositClass.UNSUPPORTED_TOKEN
    key = (contract or "").lower()
    if key not in listing.minimums:
        # An unlisted token; or native coin where the exchange lists none on this network.
        return (
            DepositClass.UNSUPPORTED_TOKEN if standard == TokenStandard.ERC20 else DepositClass.WRONG_NETWORK
        )
    if amount < listing.minimums[key]:
        return DepositClass.BELOW_MINIMUM
    return DepositClass.LISTED
