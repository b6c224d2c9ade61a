"""App configuration for the recovery app."""

from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "recovery"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Wrong-deposit recovery"
