"""Listening sockets several processes share (``SO_REUSEPORT``): the kernel spreads new
connections over the workers' sockets, so no process accepts for the others."""

from __future__ import annotations

import socket


def reuse_port_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT``; listening if ``listen``.

    A socket that is bound but not listening takes no connections: the supervisor holds one
    so that a port chosen by the kernel (``port`` 0) stays its workers' while they start.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(2048)
            sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
