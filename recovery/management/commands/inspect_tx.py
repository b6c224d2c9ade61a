"""manage.py inspect_tx: what a transaction carries, as one JSON object (EVM transfers, Bitcoin tokens)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chains.base import ChainError
from chains.bitcoin.describe import describe_tx
from chains.evm.chain import lookup_as_json
from recovery.deposits.watched import watched_addresses
from recovery.models import Family, Network
from recovery.onchain.registry import chain_for


class Command(BaseCommand):
    help = (
        "Print what a transaction did: EVM transfers to our deposit addresses, or Bitcoin outputs and tokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", required=True, help="Network slug, e.g. ethereum, anvil, bitcoin.")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--txid", help="Look the transaction up on the network's node.")
        source.add_argument("--hex-file", help="Bitcoin: a file holding the raw transaction hex.")
        parser.add_argument("--all", action="store_true", help="EVM: every transfer, not only ours.")

    def handle(self, *args: Any, **options: Any) -> None:
        network = Network.objects.filter(slug=options["network"]).first()
        if network is None:
            known = (
                ", ".join(Network.objects.values_list("slug", flat=True)) or "none (run loaddata networks)"
            )
            raise CommandError(f"unknown network {options['network']!r}; known: {known}")
        try:
            result = self.inspect(network, options)
        except ChainError as error:
            raise CommandError(f"{type(error).__name__}: {error}") from error
        self.stdout.write(json.dumps(result, indent=2))

    def inspect(self, network: Network, options: dict[str, Any]) -> dict[str, Any]:
        if network.family == Family.BITCOIN:
            if options["hex_file"]:
                raw = Path(options["hex_file"]).read_text().strip()
            else:
                raw = chain_for(network).raw_transaction(options["txid"])
            return describe_tx(raw, network.slug)
        if options["hex_file"]:
            raise CommandError("--hex-file is for Bitcoin networks; give --txid for an EVM network")
        watched = None if options["all"] else watched_addresses(network.family)
        return lookup_as_json(chain_for(network).lookup_tx(options["txid"], watched))
