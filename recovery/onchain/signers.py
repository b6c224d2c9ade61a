"""The signers of this deployment: local HD signers from SIGNER_MNEMONIC (an HSM would plug in here)."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from chains.bitcoin.network import network_by_name
from chains.bitcoin.signer import BitcoinHdSigner
from chains.evm.signer import LocalHDSigner


@cache
def evm_signer() -> LocalHDSigner:
    if not settings.SIGNER_MNEMONIC:
        raise RuntimeError("SIGNER_MNEMONIC is not set: refunds cannot be signed")
    return LocalHDSigner(settings.SIGNER_MNEMONIC)


@cache
def bitcoin_signer(network_slug: str) -> BitcoinHdSigner:
    if not settings.SIGNER_MNEMONIC:
        raise RuntimeError("SIGNER_MNEMONIC is not set: refunds cannot be signed")
    return BitcoinHdSigner(settings.SIGNER_MNEMONIC, network_by_name(network_slug))
