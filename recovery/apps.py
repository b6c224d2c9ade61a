"""App configuration for the recovery app."""

from django.apps import AppConfig

from recovery import checks  # noqa: F401  (importing registers the production checks)


class RecoveryConfig(AppConfig):
    name = "recovery"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Wrong-deposit recovery"
