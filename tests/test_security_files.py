"""Files tgfeed creates are private, but for the published feeds; files it reads
secrets from must be private, or `tgfeed check` (and the first use) refuses them
with the ``chmod`` that fixes it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tgfeed.app import App
from tgfeed.errors import ConfigError
from tgfeed.web import create_app

from .conftest import ROOT


def tgfeed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m tgfeed ARGS`` as a fresh process started under umask 022."""
    env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "tgfeed", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        preexec_fn=lambda: os.umask(0o022),
    )


def modes(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` (and ``root``) → its permission bits."""
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def test_a_fresh_demo_creates_private_files_and_public_feeds(tmp_path: Path) -> None:
    """`stat` of every file `tgfeed demo --no-serve` (and a digest preview) created:
    the store, the outbox, previews, the key and the config are 0600/0640 in
    0700/0750 folders; the published feeds are 0644 in 0755 folders."""
    r = tgfeed("demo", "--dir", "d", "--no-serve", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    demo = tmp_path / "d"
    r = tgfeed(
        "--config", str(demo / "config.toml"), "digest", "preview", "--out", "d/p", cwd=tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr
    found = modes(demo)
    for must in ("tgfeed.db", "secret.key", "config.toml", "outbox/new", "public/index.html"):
        assert must in found, sorted(found)
    assert any(name.startswith("p/") and name.endswith(".eml") for name in found)
    assert len([n for n in found if n.startswith("public/feeds/")]) > 20
    for name, mode in found.items():
        is_dir = (demo / name).is_dir()
        if name == "public" or name.startswith("public/"):
            assert mode == (0o755 if is_dir else 0o644), (name, oct(mode))
        elif is_dir:
            assert mode in (0o700, 0o750), (name, oct(mode))
        else:
            assert mode in (0o600, 0o640), (name, oct(mode))
    assert found["secret.key"] == 0o600


def test_the_systemd_unit_sets_the_umask() -> None:
    unit = (ROOT / "deploy" / "tgfeed.service").read_text(encoding="utf-8")
    assert "\nUMask=0027\n" in unit


# -- secret files that others can read ---------------------------------------------------


def _pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


SECRETS = {
    "mail.smtp.password_file": ("password", '[mail]\nbackend = "smtp"\n[mail.smtp]\npassword_file'),
    "web.api_token_file": ("api-token-0123456789abcdef", "[web]\napi_token_file"),
    "web.admin_token_file": ("admin-token-0123456789abcdef", "[web]\nadmin_token_file"),
    "security.secret_file": ("secret-0123456789abcdef", "[security]\nsecret_file"),
    "mail.dkim.key_file": (
        "",
        '[mail.dkim]\ndomain = "tuyengiaohungyen.vn"\nselector = "tg"\nkey_file',
    ),
}


@pytest.mark.parametrize("what", sorted(SECRETS))
def test_check_refuses_a_secret_file_others_can_read_with_the_chmod(
    tmp_path: Path, what: str
) -> None:
    value, toml = SECRETS[what]
    secret = tmp_path / "secret file"
    secret.write_bytes(_pem() if not value else value.encode())
    secret.chmod(0o644)
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "data/tgfeed.db"\n{toml} = "{secret}"\n', encoding="utf-8")
    r = tgfeed("--config", str(config), "check", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    fix = f"chmod o-rwx '{secret}'"
    line = f"{what}: {secret} can be read by other users (mode 0644); fix: {fix}"
    assert f"  {line}\n" in r.stdout, r.stdout  # one line, however narrow the terminal
    secret.chmod(0o640)  # the group may read it (e.g. a deploy group); others may not
    r = tgfeed("--config", str(config), "check", cwd=tmp_path)
    assert "can be read by other users" not in r.stdout + r.stderr


def test_a_token_file_others_can_read_is_refused_when_it_is_used(
    app_factory: Callable[..., App], live_server: object, tmp_path: Path
) -> None:
    """At use, not only in `check`: the push API stays shut (403) and says why."""
    token = tmp_path / "api.token"
    token.write_text("api-token-0123456789abcdef\n", encoding="utf-8")
    token.chmod(0o604)
    app = app_factory(f'[web]\napi_token_file = "{token}"\n')
    with pytest.raises(ConfigError, match=r"can be read by other users \(mode 0604\)"):
        app.config.web.api_token()
    with live_server(create_app(app, scheduler=False)) as srv:  # type: ignore[operator]
        auth = {"Authorization": "Bearer api-token-0123456789abcdef"}
        r = httpx.post(f"{srv.url}/api/articles", json={}, headers=auth)
    assert r.status_code == 403
    assert "can be read by other users" in r.json()["error"]
    assert r.json()["hint"].startswith(f"chmod o-rwx {token}")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("hK9$-mistakenly-pasted-token", "is not the name of an environment variable"),
        ("hK9mistakenlyPastedToken1234", "the environment variable named by web.api_token_env"),
    ],
)
def test_an_env_setting_holding_the_secret_itself_is_never_echoed(
    app_factory: Callable[..., App], live_server: object, secret: str, message: str
) -> None:
    """``api_token_env = "<the token>"`` by mistake: the 403s and `check` do not repeat
    it (a value that is not an upper-case variable name is never shown)."""
    app = app_factory(f'[web]\napi_token_env = "{secret}"\nadmin_token_env = "{secret}"\n')
    with live_server(create_app(app, scheduler=False)) as srv:  # type: ignore[operator]
        r = httpx.post(f"{srv.url}/api/articles", json={}, headers={"Authorization": "Bearer x"})
        page = httpx.get(f"{srv.url}/admin/status")
    assert r.status_code == 403 and page.status_code == 403
    assert message in r.json()["error"]
    assert secret not in r.text and secret not in page.text
    config = app.config.source_path
    assert config is not None
    out = tgfeed("--config", str(config), "check", cwd=config.parent)
    assert out.returncode == 1
    assert message.replace("web.api_token_env: ", "") in out.stdout
    assert secret not in out.stdout + out.stderr
