"""Account nonces from the database: gapless per sender, handed out under a row lock."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

from recovery.models import Network, NonceCounter

log = logging.getLogger(__name__)


def nonce_take(*, network: Network, address: str, chain_nonce: Callable[[], int]) -> int:
    """The next nonce of `address`; call inside the transaction that stores the signed bytes.

    The counter row stays locked until that transaction commits, so two signers of one account queue up.
    The chain's mined count is a floor: if the account moved without us, we continue after it.
    """
    assert transaction.get_connection().in_atomic_block, "a nonce is taken in the transaction that uses it"
    counter, _ = NonceCounter.objects.select_for_update().get_or_create(network=network, address=address)
    on_chain = chain_nonce()
    if on_chain > counter.next_nonce:
        if counter.next_nonce:
            log.warning(
                "account %s moved outside this system: nonce %s -> %s", address, counter.next_nonce, on_chain
            )
        counter.next_nonce = on_chain
    nonce = counter.next_nonce
    counter.next_nonce = nonce + 1
    counter.save(update_fields=["next_nonce"])
    return nonce
