"""Production refuses unsafe defaults: manage.py commands and the WSGI app, each run as its own process with
DJANGO_ENV=production, name what to set and refuse to start; the local default starts as before."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO

SAFE_PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "a" * 20 + "-production-secret-" + "b" * 30,
    "ALLOWED_HOSTS": "recovery.example.com",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "CELERY_BROKER_URL": "amqp://recovery:secret@rabbitmq.internal:5672/recovery",
    "SIGNER_MNEMONIC": "abandon " * 11 + "about",
}
# Settings the tests decide; whatever the shell running the suite has for them is dropped.
DECIDED = {*SAFE_PRODUCTION, "DJANGO_DEBUG", "DATABASE_URL", "RECOVERY_VAR_DIR"}
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def run(
    args: list[str], env: dict[str, str], tmp_path: Path, timeout: float = 120
) -> subprocess.CompletedProcess:
    """One process on a throwaway SQLite file: a check that wrongly passes touches no real database."""
    base = {key: value for key, value in os.environ.items() if key not in DECIDED}
    base |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "RECOVERY_VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=base | env, capture_output=True, text=True, timeout=timeout
    )


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return run(["manage.py", *args], env, tmp_path)


def recovery_errors(output: str) -> set[str]:
    return {word.strip("()") for word in output.split() if word.startswith("(recovery.E")}


UNSAFE = [
    ("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend", "recovery.E001"),
    ("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend", "recovery.E001"),
    ("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend", "recovery.E001"),
    ("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend", "recovery.E001"),
    ("CELERY_BROKER_URL", "filesystem://", "recovery.E002"),
    ("CELERY_BROKER_URL", "memory://", "recovery.E002"),
    ("SIGNER_MNEMONIC", "", "recovery.E003"),
    ("SIGNER_MNEMONIC", ANVIL_MNEMONIC, "recovery.E004"),
]


@pytest.mark.parametrize(
    ("name", "value", "error"), UNSAFE, ids=[f"{n}={v or 'empty'}" for n, v, _ in UNSAFE]
)
def test_check_deploy_refuses_each_unsafe_default_and_says_what_to_set(name, value, error, tmp_path):
    result = manage("check", "--deploy", env=SAFE_PRODUCTION | {name: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert recovery_errors(result.stderr) == {error}, result.stderr
    assert f"HINT: Set {name}" in result.stderr


def test_production_without_the_variables_names_all_three(tmp_path):
    env = {key: SAFE_PRODUCTION[key] for key in ("DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS")}
    result = manage("check", "--deploy", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert recovery_errors(result.stderr) == {"recovery.E001", "recovery.E002", "recovery.E003"}


def test_production_settings_pass_check_deploy_with_no_warnings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=SAFE_PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrate_refuses_before_touching_the_database(tmp_path):
    result = manage(
        "migrate", env=SAFE_PRODUCTION | {"CELERY_BROKER_URL": "filesystem://"}, tmp_path=tmp_path
    )
    assert result.returncode != 0 and "recovery.E002" in result.stderr
    assert "Applying" not in result.stdout


def test_runserver_refuses_to_start(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = SAFE_PRODUCTION | {"SIGNER_MNEMONIC": "", "ALLOWED_HOSTS": "127.0.0.1"}
    result = run(["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env, tmp_path, timeout=60)
    assert result.returncode != 0 and "recovery.E003" in result.stderr


def test_the_wsgi_app_refuses_to_start_in_production(tmp_path):
    result = run(
        ["-c", "import recovery.wsgi"],
        SAFE_PRODUCTION | {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "SystemCheckError" in result.stderr and recovery_errors(result.stderr) == {"recovery.E001"}


def test_the_wsgi_app_starts_in_production_with_safe_values(tmp_path):
    result = run(
        ["-c", "from recovery.wsgi import application; print(callable(application))"],
        SAFE_PRODUCTION,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("True")


def test_the_local_default_is_untouched(tmp_path):
    """No DJANGO_ENV: console mail, the filesystem broker and anvil's seed are the embedded default."""
    assert manage("check", env={}, tmp_path=tmp_path).returncode == 0
    result = run(["-c", "import recovery.wsgi"], {}, tmp_path)
    assert result.returncode == 0 and "recovery.E" not in result.stdout + result.stderr


def test_the_api_schema_and_docs_are_refused_to_anonymous_users_under_production_settings(tmp_path):
    """The real production settings module, not an override (no session cookie: no database is read)."""
    probe = (
        "import django; django.setup(); from django.test import Client; "
        "client = Client(HTTP_HOST='recovery.example.com'); "
        "print([client.get(path, secure=True).status_code for path in ('/api/docs/', '/api/schema/')])"
    )
    result = run(["-c", probe], SAFE_PRODUCTION | {"DJANGO_SETTINGS_MODULE": "recovery.settings"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[403, 403]"
