"""The launcher's readiness probe: a port that answers with anything but HTTP is not ready.

A probe of a port nobody listens on yet can connect to itself (a TCP self-connect: Linux gave
the probe the target port as its own ephemeral port) and read its own request back; the
launcher once crashed on that BadStatusLine while the services were still starting.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from zicht_devtools import devstack, stack


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback server that sends each request back, as a self-connected socket does."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(conn.recv(4096))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()
        thread.join(timeout=10)


def test_a_port_that_sends_the_request_back_is_not_ready(echo_port: int) -> None:
    assert stack._is_ready(f"http://127.0.0.1:{echo_port}") is False


def test_a_port_nobody_listens_on_is_not_ready() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert stack._is_ready(f"http://127.0.0.1:{port}") is False
    assert devstack._accepts_tcp("127.0.0.1", port) is False


def test_a_socket_connected_to_itself_is_not_taken_for_a_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def self_connected(address: tuple[str, int], timeout: float) -> socket.socket:
        # What the kernel hands the probe in a self-connect: its own address as the peer.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.connect(sock.getsockname())
        return sock

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = int(server.getsockname()[1])
        assert devstack._accepts_tcp("127.0.0.1", port) is True
        monkeypatch.setattr(socket, "create_connection", self_connected)
        assert devstack._accepts_tcp("127.0.0.1", port) is False
