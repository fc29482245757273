"""Loaded by a child process the tests start with this folder on its
``PYTHONPATH``: it may reach 127.0.0.1 only. A name that is not loopback does
not resolve, and a connection elsewhere is refused, as in a machine with no
network (the test process guards itself the same way, in conftest)."""

import ipaddress
import socket

_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect


def _loopback(host: object) -> bool:
    try:
        return host in ("localhost", None) or ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _guarded_getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    if not _loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"tests reach 127.0.0.1 only, not {host}")
    return _getaddrinfo(host, *args, **kwargs)


def _guarded_connect(self, address):  # noqa: ANN001
    if isinstance(address, tuple) and not _loopback(address[0]):
        raise ConnectionRefusedError(f"tests reach 127.0.0.1 only, not {address[0]}")
    return _connect(self, address)


socket.getaddrinfo = _guarded_getaddrinfo
socket.socket.connect = _guarded_connect
