"""The sockets of `gateway run --workers N`: connections accepted from a shared listening socket get
TCP_NODELAY, as they do when uvicorn binds the port itself (one process); the port the supervisor
holds for its workers' SO_REUSEPORT sockets takes no connection and keeps the port-in-use check."""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest
import uvicorn

from gateway.errors import ConfigurationError
from gateway.serving import (
    REUSE_PORT,
    Served,
    bind_tcp_socket,
    bind_worker_socket,
    check_port_free,
    reserve_port,
    server_config,
    workers_config,
)


async def _nodelay_of_an_accepted_connection(sock: socket.socket) -> int:
    """Serve `sock` with asyncio (as a uvicorn worker does), connect once, and report the accepted
    connection's TCP_NODELAY option as the server side sees it."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[int] = loop.create_future()

    class Report(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await loop.create_server(Report, sock=sock)
    try:
        host, port = sock.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(seen, timeout=10)
        finally:
            writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_the_shared_socket_gives_accepted_connections_tcp_nodelay() -> None:
    sock = bind_tcp_socket(uvicorn.Config("gateway.serving:app_from_environment", host="127.0.0.1", port=0))
    assert sock.proto == socket.IPPROTO_TCP
    assert asyncio.run(_nodelay_of_an_accepted_connection(sock)) != 0


@pytest.mark.skipif(not REUSE_PORT, reason="SO_REUSEPORT sockets per worker on Linux only")
def test_a_workers_own_socket_gives_accepted_connections_tcp_nodelay() -> None:
    with reserve_port("127.0.0.1", 0) as reserved:
        sock = bind_worker_socket("127.0.0.1", reserved.getsockname()[1])
        assert sock.proto == socket.IPPROTO_TCP
        assert asyncio.run(_nodelay_of_an_accepted_connection(sock)) != 0


def test_uvicorns_own_bound_socket_does_not_which_is_why_we_rewrap_it() -> None:
    """The upstream behaviour this module works around; when uvicorn fixes it, this test says the
    workaround may go."""
    sock = uvicorn.Config("gateway.serving:app_from_environment", host="127.0.0.1", port=0).bind_socket()
    assert asyncio.run(_nodelay_of_an_accepted_connection(sock)) == 0


async def _asgi_noop(scope: dict[str, object], receive: object, send: object) -> None:
    """An ASGI app for configurations that are loaded, never served."""


def test_the_gateway_is_served_with_httptools_not_h11() -> None:
    """uvicorn's C parser: h11's pure-Python parsing and event objects were a fifth of the server's
    CPU per cached availability answer (docs/benchmarks.md). `auto` would fall back to h11 silently
    if httptools were missing; naming it makes a missing dependency fail at start."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    config = server_config(Served("gateway", _asgi_noop, "127.0.0.1", 0), "warning")
    config.load()
    assert issubclass(config.http_protocol_class, HttpToolsProtocol)  # joining writes (test_serving_writes)
    workers = workers_config(host="127.0.0.1", port=0, workers=2)
    assert workers.http == config.http


def test_the_supervisor_holds_the_port_without_listening() -> None:
    """The socket `gateway run --workers N` keeps in its own process while the workers listen: it
    takes no connection (nobody would accept it), and another `gateway run` on the port is refused
    with the usual message (check_port_free), before the workers listen as after."""
    reserved = reserve_port("127.0.0.1", 0)
    with reserved, socket.socket() as client:
        port = reserved.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"^GATEWAY_PORT: port {port} on 127.0.0.1 is not free"):
            check_port_free("127.0.0.1", port, "GATEWAY_PORT")
        assert client.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def test_a_port_taken_by_another_program_is_refused() -> None:
    """Even one that listens with SO_REUSEPORT itself (as the workers do)."""
    with socket.socket() as other:
        if REUSE_PORT:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"^GATEWAY_PORT: port {port} on 127.0.0.1 is not free"):
            check_port_free("127.0.0.1", port, "GATEWAY_PORT")
        if REUSE_PORT:
            with socket.socket() as plain:
                plain.bind(("127.0.0.1", 0))
                plain.listen()
                taken = plain.getsockname()[1]
                with pytest.raises(ConfigurationError, match=f"^GATEWAY_PORT: port {taken} on 127.0.0.1"):
                    reserve_port("127.0.0.1", taken).close()


@pytest.mark.skipif(not REUSE_PORT, reason="SO_REUSEPORT sockets per worker on Linux only")
def test_the_port_is_reserved_while_an_earlier_servers_connections_wait_out_time_wait() -> None:
    """`gateway run --workers N` right after a server without SO_REUSEPORT (one uvicorn process)
    closed keep-alive connections on the port: their TIME_WAIT must not refuse the start."""
    with socket.socket() as earlier:
        earlier.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        earlier.bind(("127.0.0.1", 0))
        earlier.listen()
        port = earlier.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = earlier.accept()
        accepted.close()  # the server closes first: its side waits in TIME_WAIT
        assert client.recv(1) == b""
        client.close()
    check_port_free("127.0.0.1", port, "GATEWAY_PORT")  # as before SO_REUSEPORT: free
    with reserve_port("127.0.0.1", port), bind_worker_socket("127.0.0.1", port) as worker:
        worker.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            worker.accept()[0].close()
