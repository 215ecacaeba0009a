"""Benchmark: delivering the digest with `send_digest` vs a bare aiosmtplib loop.

    python bench/digest.py                      # 10,000 and 100,000 subscribers
    python bench/digest.py --small 2000 --big 0 # quicker

A minimal asyncio SMTP sink (accepts and discards; aiosmtpd tops out near 250
messages/s of 40 KB and would measure only itself) runs in its own process. Each
client runs in its own process too, so CPU time and peak RSS are its own:

* ``plain``  — aiosmtplib over N connections sending one prebuilt message again
  and again: the floor any sender pays;
* ``tgfeed`` — the real thing: `send_digest` over the same N connections, with
  the ledger, a token and a personalised message per recipient, against a real
  SQLite file holding the subscribers.

Targets: tgfeed ≥ 0.8× plain's messages/s at 10,000; at 100,000 peak RSS ≤ 300 MB
and per-message time within 1.2× of the 10,000 run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEEK = "2026-W48"


# -- the sink ----------------------------------------------------------------------


class Sink(asyncio.Protocol):
    """Just enough SMTP: 250 to everything, 354 to DATA, then discard until <CRLF>.<CRLF>."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.t = transport
        self.buf = bytearray()
        self.in_data = False
        self.t.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.in_data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    del self.buf[:-4]  # the terminator may straddle two reads
                    return
                del self.buf[: end + 5]
                self.in_data = False
                self.t.write(b"250 2.0.0 Ok: queued\r\n")
                continue
            eol = self.buf.find(b"\r\n")
            if eol < 0:
                return
            verb = bytes(self.buf[:4]).upper()
            del self.buf[: eol + 2]
            if verb == b"EHLO":
                self.t.write(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buf[:0] = b"\r\n"  # so a message's first line can end it too
                self.t.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.t.write(b"221 Bye\r\n")
                self.t.close()
            else:
                self.t.write(b"250 Ok\r\n")


def run_sink(port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Sink, "127.0.0.1", port, backlog=256)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- the clients -------------------------------------------------------------------


def _usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024  # seconds, MB


def _setup(n: int, port: int, connections: int, workdir: Path) -> object:
    sys.path.insert(0, str(ROOT / "src"))
    from tgfeed.app import build_app
    from tgfeed.jobs.ingest import import_paths
    from tgfeed.loader import loads

    config_path = workdir / "config.toml"
    config_path.write_text(
        f"""
[store]
path = "data/tgfeed.db"
[mail]
backend = "smtp"
[mail.smtp]
host = "127.0.0.1"
port = {port}
connections = {connections}
max_per_minute = 100000000
retry_delay = 0.1
""",
        encoding="utf-8",
    )
    app = build_app(loads(config_path.read_bytes(), source=config_path))
    import_paths(app, [ROOT / "src" / "tgfeed" / "samples" / "articles.jsonl"])
    app.store.mail.bulk_add(
        (
            (f"can.bo{i:06d}@so-ban-nganh.hungyen.gov.vn", f"Cán bộ Nguyễn Văn {i}", None)
            for i in range(n)
        ),
        now=app.now(),
        status="active",
        origin="bench",
    )
    return app


def run_client(mode: str, n: int, port: int, connections: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = _setup(n if mode == "tgfeed" else 1, port, connections, Path(tmp))
        from tgfeed.jobs.digest import compose, message_template, send_digest

        _, rendered = compose(app, WEEK)  # type: ignore[arg-type]
        template = message_template(
            app,
            WEEK,
            subject=rendered.subject,
            html=rendered.html,  # type: ignore[arg-type]
            text=rendered.text,
            date=app.now(),  # type: ignore[attr-defined]
        )
        sample = template.personalize(
            email="can.bo000001@so-ban-nganh.hungyen.gov.vn",
            name="Cán bộ Nguyễn Văn 1",
            subscriber_id=1,
            token="x" * len(template.placeholder),
        )
        cpu0, _ = _usage()
        t0 = time.perf_counter()
        if mode == "tgfeed":
            result = asyncio.run(send_digest(app, week=WEEK))  # type: ignore[arg-type]
            sent = result.sent_now
            assert result.status == "sent", result
        else:
            sent = asyncio.run(_plain(sample, n, port, connections))
        seconds = time.perf_counter() - t0
        cpu1, rss = _usage()
    print(
        json.dumps(
            {
                "mode": mode,
                "messages": sent,
                "seconds": seconds,
                "cpu": cpu1 - cpu0,
                "rss_mb": rss,
                "bytes": len(sample),
            }
        )
    )


async def _plain(message: bytes, n: int, port: int, connections: int) -> int:
    import aiosmtplib

    sent = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench.local"
        )
        await client.connect()
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            await client.sendmail(
                "bantin@tuyengiaohungyen.vn",
                [f"can.bo{i:06d}@so-ban-nganh.hungyen.gov.vn"],
                message,
            )
            sent += 1
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return sent


# -- orchestration -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(mode: str, n: int, port: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--client", mode, str(n), str(port), str(connections)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if out.returncode:
        raise SystemExit(f"{mode} client failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _line(r: dict[str, float]) -> str:
    n = r["messages"]
    return (
        f"{r['mode']:>6} {int(n):>7,} msgs  {n / r['seconds']:>8.0f} msg/s  "
        f"{1000 * r['cpu'] / n:>6.3f} ms CPU/msg  {1000 * r['seconds'] / n:>6.3f} ms/msg  "
        f"peak RSS {r['rss_mb']:>6.1f} MB  ({r['bytes'] / 1024:.1f} KB each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="best of N for the 10k pair")
    args = parser.parse_args()
    port = _free_port()
    sink = subprocess.Popen(
        [sys.executable, __file__, "--sink", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        assert sink.stdout.readline().strip() == "ready"
        print(
            f"sink on 127.0.0.1:{port}; {args.connections} connections; "
            f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
        )
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            for mode in ("plain", "tgfeed"):
                r = _client(mode, args.small, port, args.connections)
                print(_line(r), flush=True)
                if mode not in best or r["seconds"] < best[mode]["seconds"]:
                    best[mode] = r
        plain, ours = best["plain"], best["tgfeed"]
        ratio = plain["seconds"] / ours["seconds"]
        print(f"\ntgfeed / plain throughput at {args.small:,}: {ratio:.2f}× (target ≥ 0.80)")
        print(
            f"tgfeed client CPU: {1000 * ours['cpu'] / ours['messages']:.3f} ms/msg vs "
            f"plain {1000 * plain['cpu'] / plain['messages']:.3f} ms/msg"
        )
        if args.big:
            big = _client("tgfeed", args.big, port, args.connections)
            print(_line(big))
            per = (big["seconds"] / big["messages"]) / (ours["seconds"] / ours["messages"])
            cpu = (big["cpu"] / big["messages"]) / (ours["cpu"] / ours["messages"])
            print(
                f"{args.big:,} run: {per:.2f}× the per-message time and {cpu:.2f}× the "
                f"per-message CPU of the {args.small:,} run (target ≤ 1.20); "
                f"peak RSS {big['rss_mb']:.0f} MB (target ≤ 300)"
            )
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sink":
        run_sink(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--client":
        run_client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
