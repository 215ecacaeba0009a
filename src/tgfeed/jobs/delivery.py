"""The delivery loop: a digest's pending ledger rows sent over the mailer's
connections, each marked sent (and committed) before its connection carries
another message.

Temporary refusals (4xx) are retried with exponential backoff up to
``max_attempts``; permanent ones (5xx) are recorded and count toward
``bounce_limit``. When the relay itself is unreachable every worker pauses
(1×, 2×, 4×… ``retry_delay``); after ``max_attempts`` pauses the run stops and
the remaining rows stay pending for the next run — nobody is blamed for an
outage. ``jobs.retry`` decides which of these applies (a pure function, tested
without sockets); this loop carries it out. See ``jobs.digest`` for the guarantee
this gives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from ..app import App
from ..digest.message import MessageTemplate
from ..errors import MailError, StoreError, TemporaryMailError, TgfeedError
from ..mail import Mailer, envelope_from
from ..model import DigestRecord, Recipient
from ..store import MailRepo, digest_lease
from ..tokens import Signer
from .retry import LEASE, Abort, Pause, Retry, RetryPolicy, decide

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) after each recipient's final outcome

LEASE_TTL = LEASE.ttl


class _Group:
    """The rows marked sent since the last commit, and whether their commit held."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.committed = False


class Delivery:
    """Sends a digest's pending ledger rows over ``mailer.concurrency`` workers."""

    def __init__(
        self,
        app: App,
        ms: MailRepo,
        record: DigestRecord,
        template: MessageTemplate,
        mailer: Mailer,
        signer: Signer,
        progress: Progress | None,
        owner: str,
    ) -> None:
        self.app = app
        self.ms = ms
        self.record = record
        self.template = template
        self.mailer = mailer
        self.signer = signer
        self.progress = progress
        self.owner = owner
        self.smtp = app.config.mail.smtp
        self.bounce_limit = app.config.mail.bounce_limit
        self.token_max_age = app.config.digest.token_max_age
        self.env_from = envelope_from(app.config)
        self.dkim = app.dkim
        self.sent_now = 0
        self.abort_reason: str | None = None
        self._aborted = asyncio.Event()
        self._taken = asyncio.Event()  # the queue ran low: the feeder may add more
        self._low_water = 0
        # Issued as of the digest's creation: a resent message is byte-identical.
        self._expires = record.created_at + timedelta(seconds=self.token_max_age)
        self._batch: _Group | None = None
        self._retries: set[asyncio.TimerHandle] = set()
        self.policy = RetryPolicy.of(self.smtp, mailer.where)
        self._outage_streak = 0  # pauses in a row since a message got through
        self._resume_at = 0.0
        self._renewed = app.now()
        # Set by the service on SIGTERM/SIGINT: no new message starts, those on the wire
        # finish and are recorded, the rest stays pending for the next start.
        self._stopping = app.runtime.stopping
        self._draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        counts = ms.delivery_counts(record.id)
        self.total = sum(counts.values())
        self.done = self.total - counts["pending"]

    def token(self, subscriber_id: int) -> str:
        return self.signer.sign("unsubscribe", subscriber_id, self._expires)

    async def run(self) -> None:
        workers_n = max(1, self.mailer.concurrency)
        # Unbounded, so that a retry can always be put back; the feeder keeps it short.
        queue: asyncio.Queue[Recipient] = asyncio.Queue()
        low_water = self._low_water = workers_n * 16
        if self.progress:
            self.progress(self.done, self.total)

        async def feed_and_drain() -> None:
            after = 0
            while not self._aborted.is_set() and not self._draining:
                batch = self.ms.pending(self.record.id, after=after, limit=500)
                if not batch:
                    break
                for item in batch:
                    queue.put_nowait(item)
                after = batch[-1].subscriber_id
                while queue.qsize() > low_water and not self._aborted.is_set():
                    self._taken.clear()
                    await self._taken.wait()
            await queue.join()

        workers = [asyncio.create_task(self._work(queue)) for _ in range(workers_n)]
        main = asyncio.create_task(feed_and_drain())
        stop = asyncio.create_task(self._aborted.wait())
        halt = asyncio.create_task(
            self._stopping.wait() if self._stopping is not None else asyncio.Event().wait()
        )
        try:
            await asyncio.wait({main, stop, halt}, return_when=asyncio.FIRST_COMPLETED)
            if main.done():
                main.result()
            elif halt.done() and not stop.done():
                await self._drain()
        finally:
            halt.cancel()
            for handle in self._retries:
                handle.cancel()
            # Cancel until done: Python 3.11's wait_for (inside aiosmtplib) can swallow a
            # cancellation that races with a connection error.
            tasks = [*workers, main, stop]
            while pending := [t for t in tasks if not t.done()]:
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=1)
            if self._batch is not None:
                self._commit()

    async def _drain(self) -> None:
        """The service is stopping: start nothing new, let messages on the wire finish."""
        self._draining = True
        self.abort_reason = "the service stopped; the rest is sent at the next start"
        log.warning(
            "digest %s: stopping after the %d message(s) on the wire",
            self.record.week,
            self._in_flight,
        )
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=self.smtp.timeout + 5)
        except TimeoutError:
            log.error(
                "digest %s: messages still on the wire after %ss; they stay pending",
                self.record.week,
                self.smtp.timeout + 5,
            )

    async def _work(self, queue: asyncio.Queue[Recipient]) -> None:
        while not self._aborted.is_set() and not self._draining:
            item = await queue.get()
            if queue.qsize() <= self._low_water:
                self._taken.set()  # wake the feeder only when it has work to do
            requeued = False
            try:
                await self._gate()
                if not self._aborted.is_set() and not self._draining:
                    self._in_flight += 1
                    self._idle.clear()
                    try:
                        requeued = await self._deliver(item, queue)
                    except StoreError as exc:  # the ledger cannot be written (disk full)
                        self._abort(exc.message)  # stop before sending more
                    finally:
                        self._in_flight -= 1
                        if not self._in_flight:
                            self._idle.set()
            finally:
                if not requeued:
                    queue.task_done()

    def _finished(self, *, sent: bool = False) -> None:
        self.done += 1
        if sent:
            self.sent_now += 1
        if self.progress:
            self.progress(self.done, self.total)
        self._renew()

    def _renew(self) -> None:
        """Renew the sending lease when it is due (``jobs.retry.LEASE``); stop if
        another process took it over meanwhile (this one stalled past the lease):
        two senders must never run side by side."""
        now = self.app.now()
        if LEASE.due(self._renewed, now):
            self._renewed = now
            lease = digest_lease(self.record.week)
            if not self.app.store.jobs.renew_lease(lease, self.owner, now=now, ttl=LEASE.ttl):
                holder = self.app.store.jobs.lease_holder(lease, now) or "another process"
                self._abort(f"the sending lease was taken over by {holder}, which goes on")

    def _later(self, delay: float, queue: asyncio.Queue[Recipient], item: Recipient) -> None:
        """Put ``item`` back after ``delay`` seconds; it stays unfinished meanwhile."""
        loop = asyncio.get_running_loop()

        def put() -> None:
            self._retries.discard(handle)
            queue.put_nowait(item)
            queue.task_done()

        handle = loop.call_later(delay, put)
        self._retries.add(handle)

    async def _deliver(self, item: Recipient, queue: asyncio.Queue[Recipient]) -> bool:
        """Try one recipient once; True when it was put back for a retry."""
        ms, digest_id, sid = self.ms, self.record.id, item.subscriber_id
        if not ms.is_pending(digest_id, sid):  # they left (unsubscribed, bounced) meanwhile
            self._finished()
            return False
        try:
            message = self.template.personalize(
                email=item.email, name=item.name, subscriber_id=sid, token=self.token(sid)
            )
            if self.dkim is not None:
                message = self.dkim.sign(message)
        except TgfeedError as exc:  # an address that can no longer be sent to
            ms.mark_failed(
                digest_id,
                sid,
                error=exc.message,
                now=self.app.now(),
                permanent=False,
                bounce_limit=self.bounce_limit,
            )
            self._finished()
            return False
        try:
            reply = await self.mailer.send(self.env_from, [item.email], message)
        except MailError as exc:
            return self._failed(item, exc, queue)
        if not await self._record_sent(sid, reply):
            return False
        self._outage_streak = 0
        self._finished(sent=True)
        return False

    def _failed(self, item: Recipient, exc: MailError, queue: asyncio.Queue[Recipient]) -> bool:
        """Carry out ``decide()`` for a failed attempt; True when ``item`` was put back."""
        ms, digest_id, sid = self.ms, self.record.id, item.subscriber_id
        attempts = 0
        if isinstance(exc, TemporaryMailError):
            # A connection failure is not this recipient's fault: no attempt counted.
            attempts = ms.mark_retry(
                digest_id, sid, error=exc.message, now=self.app.now(), count=not exc.connection
            )
            if exc.connection and time.monotonic() < self._resume_at:
                self._later(0, queue, item)  # tried before the pause began: wait behind it
                return True
        decision = decide(exc, attempts, self._outage_streak, self.policy)
        if isinstance(decision, Retry):
            self._later(decision.after, queue, item)
            return True
        if isinstance(decision, Pause):
            self._outage_streak += 1
            self._resume_at = time.monotonic() + decision.after
            log.warning("relay unreachable (%s); pausing %.1fs", exc.message, decision.after)
            self._later(0, queue, item)  # the gate holds it until the pause is over
            return True
        if isinstance(decision, Abort):  # the setup is wrong or the relay stays down
            self._abort(decision.reason)
            return False
        bounced = ms.mark_failed(
            digest_id,
            sid,
            error=decision.reason,
            now=self.app.now(),
            permanent=decision.permanent,
            bounce_limit=self.bounce_limit,
        )
        if decision.permanent:
            log.warning("%s: refused: %s%s", item.email, exc.message, " (now bounced)" * bounced)
        self._finished()
        return False

    async def _record_sent(self, subscriber_id: int, reply: str) -> bool:
        """Mark a row sent and wait until that is committed (group commit: rows
        accepted on other connections in the same loop turn share the commit).
        Only then may this connection carry another message. False when the
        commit failed: the run is aborted and the row stays pending."""
        self.ms.mark_sent(
            self.record.id, subscriber_id, reply=reply, now=self.app.now(), commit=False
        )
        batch = self._batch
        if batch is None:
            batch = self._batch = _Group()
            asyncio.get_running_loop().call_soon(self._commit)
        await batch.done.wait()
        return batch.committed

    def _commit(self) -> None:
        batch, self._batch = self._batch, None
        try:
            self.ms.commit()
        except StoreError as exc:  # disk full, I/O error: stop before sending more
            self._abort(exc.message)
        else:
            if batch is not None:
                batch.committed = True
        finally:
            if batch is not None:
                batch.done.set()

    async def _gate(self) -> None:
        """Wait out a pause after the relay became unreachable; a pause can outlast
        the lease, so it is renewed meanwhile."""
        every = LEASE.every.total_seconds()
        while (wait := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(min(wait, every))
            self._renew()

    def _abort(self, reason: str) -> None:
        if not self._aborted.is_set():
            log.error("digest %s: stopping: %s", self.record.week, reason)
            self.abort_reason = reason
            self._aborted.set()
