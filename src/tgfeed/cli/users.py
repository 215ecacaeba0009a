"""Accounts of the web console: `tgfeed users add|passwd|remove|list`."""

from __future__ import annotations

import sys

import click

from ..app import App
from ..auth import AccountError, check_name, check_password, check_role, hash_password
from ..digest.message import check_address
from ..model import ROLES
from .base import cli, console
from .context import pass_app
from .output import emit_json, json_option, local, table

_STDIN_HELP = "Read the password from the first line of standard input (for scripts)."


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AccountError(
                "no password on standard input", hint="echo the password into the command"
            )
        return check_password(line.rstrip("\r\n"))
    value = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return check_password(str(value))


def _require(app: App, name: str) -> None:
    if app.store.users.user(name) is None:
        raise AccountError(f"{name}: no such user", hint="`tgfeed users list` shows them")


@cli.group()
def users() -> None:
    """Accounts of the web console (/admin/): add, passwd, remove, list."""


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option(
    "--email",
    help="Their address: the digest's test send goes there; with [digest] approvers, "
    "the console lets them decide a draft only if it is listed there.",
)
@click.option("--password-stdin", "from_stdin", is_flag=True, help=_STDIN_HELP)
@pass_app
def add(app: App, name: str, role: str, email: str | None, from_stdin: bool) -> None:
    """Add a user; the password is asked twice (or read with --password-stdin)."""
    name = check_name(name)
    if app.store.users.user(name) is not None:
        raise AccountError(
            f"{name}: the user exists", hint=f"`tgfeed users passwd {name}` changes the password"
        )
    address = check_address(email) if email else None
    hashed = hash_password(_password(from_stdin))
    user = app.store.users.add_user(name, check_role(role), hashed, now=app.now(), email=address)
    app.store.users.audit(
        "users.add", now=app.now(), target=user.name, detail={"role": role}, client="cli"
    )
    console.print(f"added {user.name} ({user.role})", markup=False)


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), help="Change the role too.")
@click.option("--password-stdin", "from_stdin", is_flag=True, help=_STDIN_HELP)
@pass_app
def passwd(app: App, name: str, role: str | None, from_stdin: bool) -> None:
    """Set a new password (ends the user's open sessions)."""
    _require(app, name)
    hashed = hash_password(_password(from_stdin))
    app.store.users.update_user(
        name, now=app.now(), password_hash=hashed, role=check_role(role) if role else None
    )
    app.store.users.audit("users.passwd", now=app.now(), target=name, client="cli")
    console.print(f"password of {name} changed; their sessions ended", markup=False)


@users.command()
@click.argument("name")
@pass_app
def remove(app: App, name: str) -> None:
    """Delete a user and end their sessions."""
    _require(app, name)
    app.store.users.remove_user(name)
    app.store.users.audit("users.remove", now=app.now(), target=name, client="cli")
    console.print(f"removed {name}", markup=False)


@users.command("list")
@json_option
@pass_app
def list_(app: App, as_json: bool) -> None:
    """Users with their role, address and last login (local time)."""
    found = app.store.users.users()
    if as_json:
        emit_json(
            [
                {
                    "name": u.name,
                    "role": u.role,
                    "email": u.email,
                    "created_at": u.created_at.astimezone(app.tz),
                    "last_login_at": u.last_login_at.astimezone(app.tz)
                    if u.last_login_at
                    else None,
                }
                for u in found
            ]
        )
        return
    if not found:
        console.print("no users; add one with `tgfeed users add NAME --role admin`", markup=False)
        return
    table(
        ("name", "role", "email", "created", "last login"),
        [
            (
                u.name,
                u.role,
                u.email or "",
                local(u.created_at, app.tz),
                local(u.last_login_at, app.tz),
            )
            for u in found
        ],
    )
