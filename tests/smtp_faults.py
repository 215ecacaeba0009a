"""A raw asyncio SMTP server on 127.0.0.1 that misbehaves on cue.

aiosmtpd answers politely or refuses; a broken relay also drops the connection,
stalls, or closes in the middle of DATA. This server speaks just enough SMTP
(EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and asks a script, at each stage
of each session, what to do: nothing (the normal answer), ``"drop"`` (close the
connection without a word), ``"stall"`` (say nothing until the client gives up)
or an SMTP reply to send instead (``"421 4.3.2 Shutting down"``: a 421 or a
greeting refusal also closes the connection).

Stages: ``connect`` (instead of the greeting), ``ehlo``, ``mail``, ``rcpt``,
``data`` (instead of 354), ``mid-data`` (after the headers, before the final
dot: the message is incomplete and is thrown away), ``dot`` (the whole message is
here, instead of the 250: on ``drop``/``stall`` the server keeps the message — a
real relay may well deliver it — which is exactly how a duplicate arises).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from .conftest import free_port


@dataclass(frozen=True)
class Moment:
    stage: str
    connection: int  # 1, 2, … in order of arrival
    rcpt: str | None  # the recipient of the message under way, once known
    attempt: int  # how many times this recipient has reached this stage (1 = first)


Script = Callable[[Moment], str | None]


@dataclass
class Kept:
    rcpt: str
    message_id: str
    data: bytes
    answered: bool  # the client got our 250


@dataclass
class FaultyRelay:
    script: Script = lambda m: None
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    kept: list[Kept] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle (the server runs in its own thread and event loop) ---------------

    def start(self) -> FaultyRelay:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the SMTP fault server did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._session, self.host, self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            sessions = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in sessions:  # stalled ones included
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> FaultyRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def toml(self, **smtp: object) -> str:
        settings = {
            "host": self.host,
            "port": self.port,
            "connections": 2,
            "max_per_minute": 600_000,
            "retry_delay": 0.02,
            "max_attempts": 4,
            # Our timeout: long enough that a relay thread slowed by a loaded machine
            # never looks like a stall (its late 250 would make an unscripted
            # duplicate); the stall cases set a short one of their own.
            "timeout": 5,
            **smtp,
        }
        body = "\n".join(
            f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()
        )
        return f'backend = "smtp"\n[mail.smtp]\n{body}\n'

    # -- what the server kept -----------------------------------------------------

    def copies(self) -> dict[str, list[Kept]]:
        out: dict[str, list[Kept]] = defaultdict(list)
        with self._lock:
            for k in self.kept:
                out[k.rcpt].append(k)
        return dict(out)

    # -- the protocol --------------------------------------------------------------

    def _decide(self, stage: str, conn: int, rcpt: str | None) -> str | None:
        with self._lock:
            self._seen[(stage, rcpt or "")] += 1
            attempt = self._seen[(stage, rcpt or "")]
        action = self.script(Moment(stage, conn, rcpt, attempt))
        if action is not None:
            with self._lock:
                self.faults[f"{stage}:{action.split()[0]}"] += 1
        return action

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with self._lock:
            self.connections += 1
            conn = self.connections
        try:
            await self._converse(conn, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _act(self, action: str | None, default: str, writer: asyncio.StreamWriter) -> bool:
        """Send ``default`` or do ``action``; False when the session is over."""
        if action == "drop":
            return False
        if action == "stall":
            await asyncio.sleep(3600)
            return False
        reply = action or default
        writer.write(reply.encode() + b"\r\n")
        await writer.drain()
        return not (action and (action.startswith("421") or default.startswith("220")))

    async def _converse(
        self, conn: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not await self._act(self._decide("connect", conn, None), "220 fault.test ESMTP", writer):
            return
        rcpt: str | None = None
        while True:
            line = await reader.readline()
            if not line:
                return
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                reply = "250-fault.test\r\n250-8BITMIME\r\n250 SIZE 10485760"
                if verb == b"HELO":
                    reply = "250 fault.test"
                if not await self._act(self._decide("ehlo", conn, None), reply, writer):
                    return
            elif verb == b"MAIL":
                rcpt = None
                if not await self._act(self._decide("mail", conn, None), "250 2.1.0 Ok", writer):
                    return
            elif verb == b"RCPT":
                rcpt = line.split(b"<", 1)[1].split(b">", 1)[0].decode()
                if not await self._act(self._decide("rcpt", conn, rcpt), "250 2.1.5 Ok", writer):
                    return
            elif verb == b"DATA":
                if not await self._act(
                    self._decide("data", conn, rcpt), "354 End data with <CR><LF>.<CR><LF>", writer
                ):
                    return
                data = await self._read_data(conn, rcpt, reader, writer)
                if data is None:
                    return
                msg = email.message_from_bytes(data, policy=email.policy.default)
                kept = Kept(rcpt or "", str(msg["Message-ID"]), data, answered=False)
                action = self._decide("dot", conn, rcpt)
                if action in ("drop", "stall"):
                    with self._lock:
                        self.kept.append(kept)  # the relay has it; the client never hears
                if action is None:
                    with self._lock:
                        kept.answered = True
                        self.kept.append(kept)
                if not await self._act(action, "250 2.0.0 Ok: queued", writer):
                    return
            elif verb in (b"RSET", b"NOOP"):
                writer.write(b"250 2.0.0 Ok\r\n")
                await writer.drain()
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 5.5.2 Command not recognized\r\n")
                await writer.drain()

    async def _read_data(
        self,
        conn: int,
        rcpt: str | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bytes | None:
        """The message up to the final dot; None when the session ends inside it."""
        lines: list[bytes] = []
        asked = False
        while True:
            line = await reader.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
            if not asked and line in (b"\r\n", b"\n"):  # end of the headers
                asked = True
                action = self._decide("mid-data", conn, rcpt)
                if action == "drop":
                    return None
                if action == "stall":
                    await asyncio.sleep(3600)
                    return None
        return b"".join(lines)
