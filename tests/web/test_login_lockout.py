"""Password guessing is cut off on every login page: per account and per client IP, for a cool-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import Client, RequestFactory
from django.utils import timezone

from recovery.accounts.throttling import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "a-strong-pass-123"  # tests/factories.py
# Each login page, a person who may log in there, and where a successful login goes.
LOGINS = [
    pytest.param("/login/", "alice", "/cases/", id="user"),
    pytest.param("/staff/login/", "agent", "/staff/", id="staff"),
    pytest.param("/admin/login/", "agent", "/admin/", id="admin"),
]


def log_in(client: Client, url: str, username: str, password: str, landing: str):
    return client.post(url, {"username": username, "password": password, "next": landing})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(times: int, url: str, username: str, landing: str, ip: str = "198.51.100.1"):
    client = Client(REMOTE_ADDR=ip)
    return [log_in(client, url, username, "wrong-password", landing) for _ in range(times)]


def age_attempts(by: timedelta) -> None:
    """Time travel: every recorded failure happened `by` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


@pytest.mark.parametrize(("url", "username", "landing"), LOGINS)
def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused(
    users, settings, url, username, landing
):
    responses = fail(settings.AXES_FAILURE_LIMIT, url, username, landing)
    assert {r.status_code for r in responses[:-1]} == {200}  # the form again, with its error
    assert responses[-1].status_code == 429  # the failure that reaches the limit already shows the lockout

    client = Client(REMOTE_ADDR="198.51.100.1")
    refused = log_in(client, url, username, PASSWORD, landing)

    assert refused.status_code == 429 and not logged_in(client)
    page = refused.content.decode()
    assert "Too many failed log-ins" in page
    assert f"After {settings.AXES_FAILURE_LIMIT} wrong passwords" in page and "paused" in page
    until = AccessAttempt.objects.get().attempt_time + settings.AXES_COOLOFF_TIME
    assert f"You can log in again at {until:%H:%M} UTC" in page
    assert "even with the right password" in page


@pytest.mark.parametrize(("url", "username", "landing"), LOGINS)
def test_fewer_failures_than_the_limit_do_not_lock(users, settings, url, username, landing):
    fail(settings.AXES_FAILURE_LIMIT - 1, url, username, landing)
    client = Client(REMOTE_ADDR="198.51.100.1")
    assert log_in(client, url, username, PASSWORD, landing).status_code == 302 and logged_in(client)


@pytest.mark.parametrize(("url", "username", "landing"), LOGINS)
def test_an_account_is_locked_whatever_ip_the_guesses_come_from(users, settings, url, username, landing):
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(1, url, username, landing, ip=f"198.51.100.{n + 10}")

    client = Client(REMOTE_ADDR="203.0.113.99")
    assert log_in(client, url, username, PASSWORD, landing).status_code == 429 and not logged_in(client)
    other = Client(REMOTE_ADDR="203.0.113.99")  # another account from that IP is not affected
    assert log_in(other, "/login/", "bob", PASSWORD, "/cases/").status_code == 302 and logged_in(other)


@pytest.mark.parametrize(("url", "username", "landing"), LOGINS)
def test_an_ip_is_locked_after_guesses_at_many_usernames(users, settings, url, username, landing):
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(1, url, f"guess{n}", landing, ip="203.0.113.7")

    client = Client(REMOTE_ADDR="203.0.113.7")
    refused = log_in(client, url, username, PASSWORD, landing)
    assert refused.status_code == 429 and not logged_in(client)
    assert "Too many failed log-ins" in refused.content.decode()
    elsewhere = Client(REMOTE_ADDR="203.0.113.8")  # the same account from another IP is not affected
    assert log_in(elsewhere, url, username, PASSWORD, landing).status_code == 302 and logged_in(elsewhere)


@pytest.mark.parametrize(("url", "username", "landing"), LOGINS)
def test_after_the_cool_off_the_right_password_works_again(users, settings, url, username, landing):
    fail(settings.AXES_FAILURE_LIMIT, url, username, landing)

    age_attempts(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
    client = Client(REMOTE_ADDR="198.51.100.1")
    assert log_in(client, url, username, PASSWORD, landing).status_code == 429  # a minute to go

    age_attempts(timedelta(minutes=1, seconds=1))
    assert log_in(client, url, username, PASSWORD, landing).status_code == 302 and logged_in(client)


def test_tries_during_a_lockout_neither_count_nor_move_its_end(users, settings):
    fail(settings.AXES_FAILURE_LIMIT, "/login/", "alice", "/cases/")
    age_attempts(timedelta(minutes=10))
    until = AccessAttempt.objects.get().attempt_time + settings.AXES_COOLOFF_TIME
    assert until - timezone.now() < timedelta(minutes=6)

    again = fail(3, "/login/", "alice", "/cases/")  # a guesser keeps going: refused, not recorded

    assert {r.status_code for r in again} == {429}
    assert f"You can log in again at {until:%H:%M} UTC" in again[-1].content.decode()
    assert AccessAttempt.objects.get().failures_since_start == settings.AXES_FAILURE_LIMIT
    age_attempts(timedelta(minutes=6))
    client = Client(REMOTE_ADDR="198.51.100.1")
    assert log_in(client, "/login/", "alice", PASSWORD, "/cases/").status_code == 302


def test_staff_are_told_an_administrator_can_lift_the_lockout_and_it_works(users, settings):
    refused = fail(settings.AXES_FAILURE_LIMIT, "/staff/login/", "agent", "/staff/")[-1]
    assert "manage.py axes_reset_username USERNAME" in refused.content.decode()

    call_command("axes_reset_username", "agent")
    client = Client(REMOTE_ADDR="198.51.100.1")
    assert log_in(client, "/staff/login/", "agent", PASSWORD, "/staff/").status_code == 302


def test_users_are_not_shown_staff_tooling(users, settings):
    page = fail(settings.AXES_FAILURE_LIMIT, "/login/", "alice", "/cases/")[-1].content.decode()
    assert "axes_reset" not in page and "Support will never ask you for your password" in page


def test_the_client_ip_is_remote_addr_unless_proxies_are_trusted(settings):
    factory = RequestFactory()
    spoofed = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5")

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(spoofed) == "10.0.0.2"  # a header anyone can send is ignored
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(spoofed) == "203.0.113.5"  # what our proxy saw, not what the client wrote before it
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(spoofed) == "1.2.3.4"
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"  # not through the proxies
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="x, y")) is None
