"""The console's accounts (migration set "tgfeed.users"): users with a role and a
password hash, their sessions, failed logins (for the rate limit) and the
``admin_audit`` trail of every state-changing action in the console.

Session ids and CSRF tokens are random; the store keeps only the SHA-256 of a
session id, so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ..model import AuditEntry, Role, Session, User
from ..text import utc_iso
from .db import Database, Db, Migrations, Row, guarded
from .subscribers import dt_or_none

migrations = Migrations("tgfeed.users")


@migrations()
def m001_users(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
            email TEXT,                        -- where "test send to my address" goes
            password_hash TEXT NOT NULL,       -- scrypt$n$r$p$salt$hash
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_login_at TEXT
        );
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,          -- sha256 of the cookie's session id
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            client TEXT,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,             -- lower-cased name as typed
            client TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX login_failures_account ON login_failures(account, at);
        CREATE INDEX login_failures_client ON login_failures(client, at);
        CREATE TABLE admin_audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT,                        -- user name; NULL before login
            role TEXT,
            action TEXT NOT NULL,              -- e.g. subscribers.add, schedule.save
            target TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
            detail TEXT,                       -- JSON, or a short reason
            client TEXT
        );
        CREATE INDEX admin_audit_at ON admin_audit(at);
        """
    )


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


_USER_COLS = "id, name, role, email, created_at, updated_at, last_login_at"


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        email=row["email"],
        created_at=datetime.fromisoformat(row["created_at"]),
        last_login_at=dt_or_none(row["last_login_at"]),
    )


@guarded
class UsersRepo:
    """Users, sessions, failed logins and the admin audit trail."""

    def __init__(self, db: Db) -> None:
        self._db = db

    # -- users -----------------------------------------------------------------

    def user(self, name: str) -> User | None:
        row = self._db.row(f"SELECT {_USER_COLS} FROM users WHERE name = ?", (name,))
        return _user(row) if row else None

    def user_by_id(self, user_id: int) -> User | None:
        row = self._db.row(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(r) for r in self._db.rows(f"SELECT {_USER_COLS} FROM users ORDER BY name")]

    def password_hash(self, name: str) -> str | None:
        value = self._db.value("SELECT password_hash FROM users WHERE name = ?", (name,))
        return str(value) if value is not None else None

    def add_user(
        self, name: str, role: Role, password_hash: str, *, now: datetime, email: str | None
    ) -> User:
        with self._db.write():
            self._db.execute(
                "INSERT INTO users (name, role, email, password_hash, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, role, email, password_hash, utc_iso(now), utc_iso(now)),
            )
        found = self.user(name)
        assert found is not None
        return found

    def update_user(
        self,
        name: str,
        *,
        now: datetime,
        role: Role | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> bool:
        """Change what is given; a new password ends every session of the user."""
        with self._db.write():
            cur = self._db.execute(
                "UPDATE users SET role = coalesce(?, role), email = coalesce(?, email), "
                "password_hash = coalesce(?, password_hash), updated_at = ? WHERE name = ?",
                (role, email, password_hash, utc_iso(now), name),
            )
            if cur.rowcount and (password_hash is not None or role is not None):
                self._db.execute(
                    "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)",
                    (name,),
                )
        return bool(cur.rowcount)

    def remove_user(self, name: str) -> bool:
        with self._db.write():
            cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
        return bool(cur.rowcount)

    def count_admins(self) -> int:
        return int(self._db.value("SELECT count(*) FROM users WHERE role = 'admin'") or 0)

    # -- sessions --------------------------------------------------------------

    def start_session(
        self, user_id: int, session_id: str, csrf: str, *, now: datetime, client: str
    ) -> None:
        with self._db.write():
            self._db.execute(
                "INSERT INTO sessions (id_hash, user_id, csrf, client, created_at, seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (session_hash(session_id), user_id, csrf, client, utc_iso(now), utc_iso(now)),
            )
            self._db.execute(
                "UPDATE users SET last_login_at = ? WHERE id = ?", (utc_iso(now), user_id)
            )

    def session(self, session_id: str) -> Session | None:
        row = self._db.row(
            "SELECT s.user_id, s.csrf, s.created_at, s.seen_at FROM sessions s WHERE s.id_hash = ?",
            (session_hash(session_id),),
        )
        if row is None:
            return None
        user = self.user_by_id(row["user_id"])
        if user is None:
            return None
        return Session(
            user=user,
            csrf=row["csrf"],
            created_at=datetime.fromisoformat(row["created_at"]),
            seen_at=datetime.fromisoformat(row["seen_at"]),
        )

    def touch_session(self, session_id: str, *, now: datetime) -> None:
        with self._db.write():
            self._db.execute(
                "UPDATE sessions SET seen_at = ? WHERE id_hash = ?",
                (utc_iso(now), session_hash(session_id)),
            )

    def end_session(self, session_id: str) -> None:
        with self._db.write():
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (session_hash(session_id),))

    def prune_sessions(self, *, seen_before: datetime, created_before: datetime) -> int:
        with self._db.write():
            cur = self._db.execute(
                "DELETE FROM sessions WHERE seen_at < ? OR created_at < ?",
                (utc_iso(seen_before), utc_iso(created_before)),
            )
        return cur.rowcount

    # -- failed logins ---------------------------------------------------------

    def login_failed(self, account: str, client: str, *, now: datetime) -> None:
        with self._db.write():
            self._db.execute(
                "INSERT INTO login_failures (account, client, at) VALUES (?, ?, ?)",
                (account.casefold(), client, utc_iso(now)),
            )

    def failures_since(self, since: datetime, *, account: str = "", client: str = "") -> int:
        """Failed logins since ``since`` for an account (or for a client)."""
        column, value = ("account", account.casefold()) if account else ("client", client)
        return int(
            self._db.value(
                f"SELECT count(*) FROM login_failures WHERE {column} = ? AND at >= ?",
                (value, utc_iso(since)),
            )
            or 0
        )

    def clear_failures(self, account: str, *, before: datetime | None = None) -> None:
        with self._db.write():
            self._db.execute("DELETE FROM login_failures WHERE account = ?", (account.casefold(),))
            if before is not None:
                self._db.execute("DELETE FROM login_failures WHERE at < ?", (utc_iso(before),))

    # -- audit -----------------------------------------------------------------

    def audit(
        self,
        action: str,
        *,
        now: datetime,
        outcome: str = "ok",
        actor: User | None = None,
        target: str | None = None,
        detail: Any = None,
        client: str | None = None,
    ) -> None:
        text = (
            detail
            if isinstance(detail, str) or detail is None
            else json.dumps(detail, ensure_ascii=False, default=str)
        )
        with self._db.write():
            self._db.execute(
                "INSERT INTO admin_audit (at, actor, role, action, target, outcome, detail, "
                "client) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_iso(now),
                    actor.name if actor else None,
                    actor.role if actor else None,
                    action,
                    target,
                    outcome,
                    text,
                    client,
                ),
            )

    def audit_log(
        self, *, limit: int = 200, actor: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        sql = "SELECT * FROM admin_audit WHERE 1 = 1"
        args: list[Any] = []
        if actor:
            sql += " AND actor = ?"
            args.append(actor)
        if target:
            sql += " AND target = ?"
            args.append(target)
        rows = self._db.rows(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [
            AuditEntry(
                id=r["id"],
                at=datetime.fromisoformat(r["at"]),
                actor=r["actor"],
                role=r["role"],
                action=r["action"],
                target=r["target"],
                outcome=r["outcome"],
                detail=r["detail"],
                client=r["client"],
            )
            for r in rows
        ]
