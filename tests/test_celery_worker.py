"""A real worker process, the real broker and the real database: a task sent through them takes effect."""

from __future__ import annotations

import pytest
from celery import Celery
from django.core import mail

from recovery.audit.roles import Actor
from recovery.cases.actions import case_file
from recovery.models import CaseEvent, Notification, Origin
from tests.processes import BROKER_URL, celery_worker, require_service, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sender() -> Celery:
    require_service(BROKER_URL)
    app = Celery("test-sender", broker=BROKER_URL)
    app.conf.task_default_queue = "notify"
    yield app
    app.close()


def test_a_worker_process_sends_the_case_notification_once(network, users, sender, tmp_path):
    case = case_file(
        origin=Origin.USER,
        category="unsupported_token",
        network=network,
        txid="0x" + "ab" * 32,
        actor=Actor.case_owner(users.alice),
        user=users.alice,
    )
    event = CaseEvent.objects.get(case=case, kind="filed")
    Notification.objects.filter(event=event).delete()  # the eager run in this process already sent it
    mail.outbox.clear()
    sender.control.purge()

    with celery_worker(queues="notify", log_path=tmp_path / "worker.log") as worker:
        for _ in range(2):  # a redelivered message must not send a second e-mail
            sender.send_task("recovery.tasks.notify_event", args=[event.pk], queue="notify")
        both_ran = wait_for(lambda: worker.tasks_succeeded() >= 2, timeout=90)
        output = worker.log

    assert both_ran, f"the worker did not run both deliveries; its log:\n{output[-3000:]}"
    assert Notification.objects.filter(event=event).count() == 1
    assert output.count("Your anti-phishing code") == 1, "exactly one e-mail went to the console backend"
    assert "never ask for your private keys" in output
