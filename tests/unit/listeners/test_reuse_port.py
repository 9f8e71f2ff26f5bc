"""Sockets bound with SO_REUSEPORT share a port: two listeners on one port both accept."""

from __future__ import annotations

import socket

import pytest

from mlinfer.listeners.reuse_port import reuse_port_socket


def test_two_listeners_share_a_reserved_port() -> None:
    held = reuse_port_socket("127.0.0.1", 0, listen=False)
    port = held.getsockname()[1]
    first = reuse_port_socket("127.0.0.1", port, listen=True)
    second = reuse_port_socket("127.0.0.1", port, listen=True)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30):
            pass  # accepted by the kernel into one of the two queues
    finally:
        for sock in (held, first, second):
            sock.close()


def test_a_port_held_without_reuse_port_is_refused() -> None:
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    try:
        with pytest.raises(OSError):
            reuse_port_socket("127.0.0.1", plain.getsockname()[1], listen=True)
    finally:
        plain.close()
