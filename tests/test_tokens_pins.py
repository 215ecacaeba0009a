"""Tokens: the format of links already in inboxes, the key's origin, and the key file
created once even when processes race (issue 17)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tgfeed.app import App
from tgfeed.errors import ConfigError, TokenError
from tgfeed.loader import loads
from tgfeed.tokens import (
    TOKEN_LENGTH,
    Signer,
    _create_key_file,
    load_key,
    placeholder,
)

from .conftest import write_config

KEY = b"k" * 32
EXPIRES = datetime(2026, 11, 30, tzinfo=UTC)
SECRET = "a-long-random-secret-value-0123456789"


def test_token_known_answer() -> None:
    """Links already sent must keep working: the token format never changes silently."""
    signer = Signer(KEY)
    assert (
        signer.sign("unsubscribe", 123456789, EXPIRES) == "AQIAAAAAB1vNFWsMvIDUZZzetOiNRJPFWJ0uMecR"
    )
    assert signer.sign("confirm", 1, EXPIRES) == "AQEAAAAAAAAAAWsMvIAHCoxvvBeI15LLSZVwZlIJ"
    # The documented layout: version 1 | purpose | subject (8 bytes) | expiry (4 bytes),
    # then the first 16 bytes of HMAC-SHA256 over those 14 bytes.
    raw = base64.urlsafe_b64decode("AQIAAAAAB1vNFWsMvIDUZZzetOiNRJPFWJ0uMecR")
    payload = (
        bytes([1, 2]) + (123456789).to_bytes(8, "big") + int(EXPIRES.timestamp()).to_bytes(4, "big")
    )
    assert raw == payload + hmac.new(KEY, payload, hashlib.sha256).digest()[:16]


def test_token_known_answer_from_a_configured_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is SHA-256 of the configured secret: the same secret, the same links."""
    write_config(tmp_path, '[security]\nsecret_env = "TGFEED_PIN_SECRET"\n')
    config = loads((tmp_path / "config.toml").read_bytes(), source=tmp_path / "config.toml")
    monkeypatch.setenv("TGFEED_PIN_SECRET", SECRET)
    key = load_key(config)
    assert key.hex() == "1c90b8222512c99cbbf9f288cb6e5daa1ed84ead84e071f76dfe0ff37ccf27be"
    token = Signer(key).sign("unsubscribe", 42, datetime(2030, 1, 1, tzinfo=UTC))
    assert token == "AQIAAAAAAAAAKnDb2ICq3soJGNzmg0AD_Dt7fEej"


def test_a_secret_of_exactly_16_characters_is_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, '[security]\nsecret_env = "TGFEED_PIN_SECRET"\n')
    config = loads((tmp_path / "config.toml").read_bytes(), source=tmp_path / "config.toml")
    monkeypatch.setenv("TGFEED_PIN_SECRET", "x" * 16)
    assert load_key(config) == hashlib.sha256(b"x" * 16).digest()
    monkeypatch.setenv("TGFEED_PIN_SECRET", "x" * 15)
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_key(config)


def test_signer_key_length_limit() -> None:
    Signer(b"k" * 16)  # 16 bytes is the documented minimum
    with pytest.raises(ConfigError, match="too short"):
        Signer(b"k" * 15)


def test_token_valid_until_its_expiry_second_inclusive() -> None:
    signer = Signer(KEY)
    token = signer.sign("confirm", 7, EXPIRES)
    assert signer.verify(token, "confirm", now=EXPIRES) == 7
    with pytest.raises(TokenError) as exc:
        signer.verify(token, "confirm", now=EXPIRES + timedelta(seconds=1))
    assert exc.value.reason == "expired"
    assert "2026-11-30T00:00:00+00:00" in str(exc.value)


def test_subject_and_expiry_ranges() -> None:
    signer = Signer(KEY)
    biggest = 2**63 - 1
    assert (
        signer.verify(signer.sign("confirm", biggest, EXPIRES), "confirm", now=EXPIRES) == biggest
    )
    assert signer.verify(signer.sign("confirm", 0, EXPIRES), "confirm", now=EXPIRES) == 0
    for bad in (-1, 2**63):
        with pytest.raises(ValueError, match="out of range"):
            signer.sign("confirm", bad, EXPIRES)
    with pytest.raises(ValueError, match="aware"):
        signer.sign("confirm", 1, datetime(2026, 1, 1))
    # Expiry clamps into 32 bits instead of failing: far future stays valid.
    far = signer.sign("confirm", 1, datetime(2200, 1, 1, tzinfo=UTC))
    assert signer.verify(far, "confirm", now=datetime(2100, 1, 1, tzinfo=UTC)) == 1
    past = signer.sign("confirm", 1, datetime(1960, 1, 1, tzinfo=UTC))
    with pytest.raises(TokenError):
        signer.verify(past, "confirm", now=datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))


def test_issue_adds_max_age_to_now() -> None:
    signer = Signer(KEY)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = signer.issue("unsubscribe", 5, now=now, max_age=60)
    assert token == signer.sign("unsubscribe", 5, now + timedelta(seconds=60))


def test_a_token_of_another_version_is_refused() -> None:
    payload = bytes([2, 2]) + (5).to_bytes(8, "big") + int(EXPIRES.timestamp()).to_bytes(4, "big")
    mac = hmac.new(KEY, payload, hashlib.sha256).digest()[:16]
    token = base64.urlsafe_b64encode(payload + mac).decode()
    with pytest.raises(TokenError, match="not a unsubscribe link"):
        Signer(KEY).verify(token, "unsubscribe", now=EXPIRES - timedelta(days=1))


def test_placeholder_has_a_tokens_length() -> None:
    assert len(placeholder()) == TOKEN_LENGTH
    assert placeholder().startswith("TGFEEDTOKEN")


def test_key_file_loser_of_a_race_uses_the_winners_key(tmp_path: Path) -> None:
    """The file appears between our failed read and our link: we take the other key."""
    path = tmp_path / "secret.key"
    path.write_text("ab" * 32 + "\n", encoding="ascii")
    assert _create_key_file(path) == "ab" * 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no temp left


def test_key_file_is_created_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret.key"
    text = _create_key_file(path)
    assert len(bytes.fromhex(text)) == 32
    assert path.read_text(encoding="ascii") == text + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]


def test_bad_key_files_are_refused(tmp_path: Path) -> None:
    write_config(tmp_path)
    config = loads((tmp_path / "config.toml").read_bytes(), source=tmp_path / "config.toml")
    key_file = tmp_path / "data" / "secret.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("zz", encoding="ascii")
    with pytest.raises(ConfigError, match="not a hex key"):
        load_key(config)
    key_file.write_text("ab" * 15, encoding="ascii")
    with pytest.raises(ConfigError, match="too short"):
        load_key(config)
    key_file.write_text("ab" * 16 + "\n", encoding="ascii")
    assert load_key(config) == bytes.fromhex("ab" * 16)


def test_an_unreadable_key_file_is_a_config_error(tmp_path: Path) -> None:
    write_config(tmp_path)
    config = loads((tmp_path / "config.toml").read_bytes(), source=tmp_path / "config.toml")
    (tmp_path / "data" / "secret.key").mkdir(parents=True)  # reading it fails
    with pytest.raises(ConfigError, match="cannot read the signing key"):
        load_key(config)


def test_the_app_loads_the_signing_key_once(app: App) -> None:
    signer = app.signer
    assert isinstance(signer, Signer)
    assert app.signer is signer
    token = signer.sign("confirm", 3, EXPIRES)
    assert app.signer.verify(token, "confirm", now=EXPIRES) == 3


def test_only_the_canonical_spelling_of_a_token_is_accepted() -> None:
    """base64 would also read '+' and '/' for '-' and '_': one link, one spelling."""
    signer = Signer(hashlib.sha256(SECRET.encode()).digest())
    token = "AQIAAAAAAAAAKnDb2ICq3soJGNzmg0AD_Dt7fEej"
    now = datetime(2029, 1, 1, tzinfo=UTC)
    assert signer.verify(token, "unsubscribe", now=now) == 42
    for bad in (token.replace("_", "/"), token + "==", None, 42):
        with pytest.raises(TokenError, match="incomplete or malformed") as exc:
            signer.verify(bad, "unsubscribe", now=now)  # type: ignore[arg-type]
        assert exc.value.reason == "invalid"


def test_expiry_is_clamped_to_32_bits() -> None:
    signer = Signer(KEY)
    far = base64.urlsafe_b64decode(signer.sign("confirm", 1, datetime(2200, 1, 1, tzinfo=UTC)))
    assert far[10:14] == b"\xff\xff\xff\xff"
    past = base64.urlsafe_b64decode(signer.sign("confirm", 1, datetime(1960, 1, 1, tzinfo=UTC)))
    assert past[10:14] == b"\x00\x00\x00\x00"


def test_key_file_in_new_nested_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "secret.key"
    assert len(bytes.fromhex(_create_key_file(path))) == 32


def test_key_file_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("x", encoding="ascii")
    with pytest.raises(ConfigError, match="cannot create the signing key"):
        _create_key_file(tmp_path / "plain-file" / "secret.key")
