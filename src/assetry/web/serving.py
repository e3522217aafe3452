"""How the HTTP worker processes of `assetry serve` share out the connections of their
one listening socket.

Every worker process waits on the same socket, and uvicorn's own server (libuv) accepts
every pending connection at once when woken; the process that served last tends to win
that race. Connections then pile up in one process: two clients connecting together (an
app's keep-alive pool, the ingest benchmark's two uploaders) landed in the same process
in most runs, whose event loop and GIL then carried both uploads while the other process
had nothing to do (88 % of the cores busy instead of 93-96 %).

Here each worker process runs its own accept loop. Every process is woken by a new
connection; one serving no request takes it at once, and only it; one serving requests
(or that was just handed a connection) first lets `YIELD_TO_IDLE` pass, then takes what
nobody took. So connections go to idle processes first, and when every process is busy a
new connection waits 2 ms longer to be taken (keep-alive clients and proxies open few).

This module imports only uvicorn: the supervisor (`assetry serve`'s first process) loads
it and stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn
from uvicorn.supervisors import multiprocess

logger = logging.getLogger(__name__)

#: how long a process that holds connections lets pass before it takes another one
YIELD_TO_IDLE = 0.002
#: a connection taken this recently counts as a request in flight (its first request is
#: on its way)
JUST_HANDED = 0.05
#: the most connections one process takes in one turn
MOST_AT_ONCE = 16


class SpreadServer(uvicorn.Server):
    """A uvicorn Server that takes the connections of the sockets it is handed itself,
    leaving each new one to an idle process when there is one."""

    _accepting: list[asyncio.Task[None]]

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not sockets:
            await super().startup(sockets)
            return
        # Lifespan and state as uvicorn makes them, but no server of its own: the
        # accept loops below hand each connection to uvicorn's protocol.
        await super().startup(sockets=[])
        self._accepting = [asyncio.create_task(self._accept(sock)) for sock in sockets]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for task in getattr(self, "_accepting", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().shutdown(sockets)

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        sock.listen(self.config.backlog)  # bound by the supervisor; listening is ours
        config, state = self.config, self.server_state

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state,
                _loop=loop)

        readable = asyncio.Event()

        def woken() -> None:
            loop.remove_reader(sock.fileno())
            readable.set()

        handed_at = -1.0  # when a connection was last handed over
        while True:
            readable.clear()
            loop.add_reader(sock.fileno(), woken)
            try:
                await readable.wait()
            finally:
                loop.remove_reader(sock.fileno())
            # A request in flight, or one about to come on a connection just taken.
            busy = bool(state.tasks) or loop.time() - handed_at < JUST_HANDED
            if busy:
                # Every process was woken: one that holds no connection takes it meanwhile.
                await asyncio.sleep(YIELD_TO_IDLE)
            # An idle process takes one connection (the next may go to another idle
            # process); a busy one, after its wait, whatever nobody took.
            for _ in range(MOST_AT_ONCE if busy else 1):
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                except OSError:
                    # Out of descriptors, or the client left before it was accepted.
                    logger.debug("accept failed", exc_info=True)
                    await asyncio.sleep(0.01)
                    break
                try:
                    await loop.connect_accepted_socket(protocol, conn)
                except Exception:  # one connection's failure must not stop the accepting
                    logger.exception("could not take a connection")
                    conn.close()
                    continue
                handed_at = loop.time()


class SpreadProcess(multiprocess.Process):
    """A uvicorn worker process serving with SpreadServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = SpreadServer(config=self.config)
        return self._server


def serve_processes(config: uvicorn.Config) -> None:
    """Run `config.workers` worker processes on one socket bound here, under uvicorn's
    supervisor (which restarts a process that dies), until told to stop."""
    # The supervisor makes its worker processes, and their replacements, through this
    # module-level name (uvicorn 0.54).
    multiprocess.Process = SpreadProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
