"""System checks: with DJANGO_ENV=production the local defaults (console mail, a broker in files or memory,
anvil's signing seed) are errors, so `check`, `migrate`, `runserver` and the WSGI app refuse to start."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

# Mail that never reaches anyone outside this machine: the user would never hear about their case.
LOCAL_EMAIL_BACKENDS = frozenset(
    f"django.core.mail.backends.{name}.EmailBackend" for name in ("console", "locmem", "filebased", "dummy")
)
# Brokers without redelivery, private to one host (filesystem) or one process (memory): a message of a
# killed worker is lost, and workers on another host never see it.
LOCAL_BROKER_SCHEMES = ("filesystem://", "memory://")
# Anvil's development seed, the local default in settings: its keys are public, so are its funds.
DEVELOPMENT_MNEMONIC = "test test test test test test test test test test test junk"


@register(Tags.security)
def production_email_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.PRODUCTION or settings.EMAIL_BACKEND not in LOCAL_EMAIL_BACKENDS:
        return []
    return [
        Error(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: in production no e-mail would reach the users.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend (and EMAIL_HOST, EMAIL_PORT, "
            "EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS) or another backend that sends mail.",
            id="recovery.E001",
        )
    ]


@register(Tags.security)
def production_broker_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.PRODUCTION or not settings.CELERY_BROKER_URL.startswith(LOCAL_BROKER_SCHEMES):
        return []
    scheme = settings.CELERY_BROKER_URL.partition("://")[0]
    return [
        Error(
            f"CELERY_BROKER_URL uses the {scheme}:// transport: in production tasks would be lost with a "
            "worker and never reach workers on another host.",
            hint="Set CELERY_BROKER_URL to RabbitMQ (amqp://user:password@host:5672/vhost, preferred) "
            "or Redis (redis://host:6379/0).",
            id="recovery.E002",
        )
    ]


@register(Tags.security)
def production_signer_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The signers (recovery/onchain/signers.py) are configured by SIGNER_MNEMONIC alone."""
    if not settings.PRODUCTION:
        return []
    mnemonic = " ".join(settings.SIGNER_MNEMONIC.split())
    if not mnemonic:
        return [
            Error(
                "SIGNER_MNEMONIC is empty: no refund could be signed.",
                hint="Set SIGNER_MNEMONIC to this deployment's BIP-39 seed phrase (in the environment "
                "only, never in the database).",
                id="recovery.E003",
            )
        ]
    if mnemonic == DEVELOPMENT_MNEMONIC:
        return [
            Error(
                "SIGNER_MNEMONIC is anvil's public development seed: anyone could spend from its addresses.",
                hint="Set SIGNER_MNEMONIC to this deployment's own secret BIP-39 seed phrase.",
                id="recovery.E004",
            )
        ]
    return []
