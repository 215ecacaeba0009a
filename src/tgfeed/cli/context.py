"""How a command gets the config and the App (loaded once per invocation)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..app import App, build_app
from ..config import Config
from ..loader import load

F = TypeVar("F", bound=Callable[..., Any])


def get_config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj
    if "config" not in obj:
        obj["config"] = load(obj.get("config_path"))
    config: Config = obj["config"]
    return config


def get_app(ctx: click.Context) -> App:
    obj = ctx.find_root().obj
    if "app" not in obj:
        app = build_app(get_config(ctx))
        obj["app"] = app
        ctx.find_root().call_on_close(app.close)
    result: App = obj["app"]
    return result


def pass_app(f: F) -> F:
    """Give a command the App as its first argument."""

    @click.pass_context
    @functools.wraps(f)
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        return f(get_app(ctx), *args, **kwargs)

    return wrapper  # type: ignore[return-value]
