"""One deadline, WEBHOOK_TIMEOUT_SECONDS, for a whole request: resolving the host, connecting to every address
tried, sending and reading the answer. A receiver that keeps a request open past it, a byte at a time, is a
failed attempt, and its claim never ages into a second send while the first is still open."""

import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from django.db import connection, transaction

from core.events import Event, emit
from tests.required import unavailable
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services.delivery import deliveries_due, delivery_send
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)


class Trickler:
    """A receiver on 127.0.0.1 that reads the request, then answers ``200 OK`` one byte every ``every``
    seconds, for ``lasting`` seconds in all (a header padded to last that long); over TLS with ``tls``."""

    def __init__(self, *, every: float = 0.2, lasting: float = 6.0, tls: ssl.SSLContext | None = None) -> None:
        self.every = every
        head, tail = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: ", b"\r\n\r\nok"
        self.answer = head + b"a" * max(int(lasting / every) - len(head) - len(tail), 0) + tail
        self.tls = tls
        self.connections = 0
        self.stopped = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.getsockname()[1]}/hooks"
        self._threads = [threading.Thread(target=self._serve, daemon=True)]

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _trickle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.recv(65536)  # the request line and headers (the body, if not here yet, is never read)
            for byte in self.answer:
                if self.stopped.wait(self.every):
                    break
                conn.sendall(bytes([byte]))
        except OSError:  # the sender gave up and closed the connection
            pass
        finally:
            conn.close()

    def __enter__(self) -> "Trickler":
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self._threads:
            thread.join(5)
        self.server.close()


def _paid(actor, url):
    endpoint_create(actor=actor, url=url, event_types=["order.paid"])
    with transaction.atomic():
        emit(Event.ORDER_PAID, order_id=42, user_id=7, total="88.50")
    return WebhookDelivery.objects.get()


def _send_watching_the_job(delivery):
    """Send ``delivery`` in a thread, as a worker would, and ask what the every-minute job would queue while
    that send is open. The seconds the send took, its outcome, and whether the job saw it due again."""
    outcomes: list = []

    def send():
        try:
            outcomes.append(delivery_send(delivery_id=delivery.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=send)
    started = time.monotonic()
    thread.start()
    due_again = False
    try:
        claimed = WebhookDelivery.objects.filter(pk=delivery.pk, attempts__gt=delivery.attempts)
        while thread.is_alive() and not claimed.exists():
            time.sleep(0.01)
        while thread.is_alive() and time.monotonic() - started < 15:
            due_again = due_again or delivery.pk in deliveries_due()
            time.sleep(0.1)
    finally:
        thread.join(30)
    return time.monotonic() - started, outcomes, due_again


def _self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline(
    operations_user, settings, monkeypatch, tmp_path, scheme
):
    # given: a receiver that answers a byte every 0.1 s (6 s in all), each byte well within the timeout; and a
    # claim timeout shorter than that answer, as the 60 s default is shorter than a receiver can trickle
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    settings.WEBHOOK_CLAIM_TIMEOUT = 2
    tls = None
    if scheme == "https":
        if not shutil.which("openssl"):
            unavailable("needs openssl to make a certificate")
        cert, key = _self_signed(tmp_path)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        monkeypatch.setattr(ssl, "_create_default_https_context", lambda: ssl.create_default_context(cafile=cert))

    with Trickler(every=0.1, lasting=6, tls=tls) as receiver:
        delivery = _paid(operations_user, receiver.url)

        # when: a worker sends it, while the every-minute job looks for abandoned claims
        seconds, outcomes, due_again = _send_watching_the_job(delivery)

    # then: the request ends at the deadline, as a failed attempt to retry, and the job never took the
    # open send for an abandoned one
    assert not due_again
    assert receiver.connections == 1
    assert seconds < 2
    assert [o.status for o in outcomes] == [DeliveryStatus.PENDING]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, None)
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert "took longer than 1 s" in attempt.error or "timed out" in attempt.error
    assert attempt.latency_ms < 2000


def test_a_slow_name_lookup_counts_against_the_deadline(operations_user, settings, monkeypatch):
    # given: a host name that takes 3 s to resolve (to a receiver that would answer at once)
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    resolve = socket.getaddrinfo

    def slow_dns(host, port, *args, **kwargs):
        time.sleep(3)
        return resolve("127.0.0.1", port, *args, **kwargs)

    with Receiver() as receiver:
        delivery = _paid(operations_user, receiver.url.replace("127.0.0.1", "hooks.example.test"))
        monkeypatch.setattr(socket, "getaddrinfo", slow_dns)

        # when
        started = time.monotonic()
        outcome = delivery_send(delivery_id=delivery.pk)
        seconds = time.monotonic() - started

    # then: given up at the deadline, not sent
    assert seconds < 2
    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_error == "hooks.example.test did not resolve within 1 s"


def test_every_address_tried_shares_the_deadline(operations_user, settings, monkeypatch):
    # given: a name with three addresses, none of which completes a connection (a listener whose queue is
    # full: the kernel drops the connection attempts, as a firewall does)
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    with socket.create_server(("127.0.0.1", 0), backlog=0) as black_hole:
        filler = socket.create_connection(black_hole.getsockname())
        port = black_hole.getsockname()[1]
        info = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))
        monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: [info] * 3)
        delivery = _paid(operations_user, f"http://hooks.example.test:{port}/hooks")

        # when
        started = time.monotonic()
        outcome = delivery_send(delivery_id=delivery.pk)
        seconds = time.monotonic() - started
        filler.close()

    # then: one second for the three of them, not one each
    assert seconds < 1.8
    assert outcome is not None and outcome.status == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.last_status_code is None and delivery.last_error
