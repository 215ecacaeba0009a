"""The outbox Maildir appears whole: a mail client or a second process that looks
while it is being made sees no folder, or a folder with tmp, new and cur."""

from __future__ import annotations

import mailbox
import threading
from pathlib import Path

from tgfeed.mail.outbox import make_maildir


def test_a_new_outbox_is_a_whole_maildir_and_leaves_no_staging(tmp_path: Path) -> None:
    box = tmp_path / "data" / "outbox"
    make_maildir(box)
    assert sorted(p.name for p in box.iterdir()) == ["cur", "new", "tmp"]
    assert mailbox.Maildir(box, create=False).keys() == []
    assert [p.name for p in box.parent.iterdir()] == ["outbox"]
    assert box.stat().st_mode & 0o777 == 0o700


def test_a_half_made_outbox_gets_what_it_lacks(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    (box / "new").mkdir(parents=True)
    (box / "new" / "1.msg").write_bytes(b"Subject: x\n\nkept\n")
    make_maildir(box)
    assert sorted(p.name for p in box.iterdir()) == ["cur", "new", "tmp"]
    assert len(mailbox.Maildir(box, create=False)) == 1


def test_racing_makers_and_a_reader_never_see_half_a_maildir(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    seen: list[str] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            make_maildir(box)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        for _ in range(2000):
            if box.is_dir():
                seen.append(",".join(sorted(p.name for p in box.iterdir())))
                return

    threads = [threading.Thread(target=read)] + [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(seen) <= {"cur,new,tmp"}
    assert [p.name for p in tmp_path.iterdir()] == ["outbox"]
