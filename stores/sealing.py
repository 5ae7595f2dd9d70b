"""Encryption at rest (`DEXTER_ENCRYPTION_KEY`): AES-256-GCM over what people wrote.

A sealed value is bound to its place (`place`: the session and the turn's seq, say) as the
AEAD's associated data, so a value copied to another row or session does not open there.
Session ids, seqs, user ids and timestamps stay clear: listing, retention and erasure work
on them without a key.

Layout of a sealed value:

    0xFF  marker: no UTF-8 text and no `stores.codec` turn starts with this byte
    B     format version (1)
    4s    key id: the first 4 bytes of SHA-256 of the key, to pick the key without trying all
    12s   nonce, random per value
    …     ciphertext and 16-byte tag

Several keys rotate: new values are sealed with the first, reads use whichever key id
matches. `python app.py rotate-key` reseals the rest with the first key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stores.base import StoreError
from stores.codec import CorruptTurn, decode_turn
from stores.models import Turn

log = logging.getLogger(__name__)

SETTING = "DEXTER_ENCRYPTION_KEY"
MARKER = 0xFF
VERSION = 1
KEY_BYTES = 32
_HEADER = struct.Struct("<BB4s12s")
TEXT_PREFIX = "~sealed:"
"""Marks a sealed value kept in a text field (base64 after it); the bot's payloads are JSON."""


class EncryptionKeyError(StoreError):
    """A sealed value cannot be opened with the configured keys, or a key is malformed."""


def new_key() -> str:
    """A fresh key as `DEXTER_ENCRYPTION_KEY` takes it: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def is_sealed(value: bytes) -> bool:
    return bool(value) and value[0] == MARKER


def place(*parts: str | int) -> bytes:
    """Where a value sits, as associated data: parts joined by NUL (ids never hold one)."""
    return "\0".join(map(str, parts)).encode()


def turn_place(session_id: str, seq: int) -> bytes:
    """A turn's place: its session and seq, so that it opens nowhere else."""
    return place("turn", session_id, seq)


def first_question_place(session_id: str) -> bytes:
    return place("first question", session_id)


class Sealer:
    """Seals with the first key, opens with any of them."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise EncryptionKeyError(f"{SETTING} holds no key")
        self._ciphers = {_key_id(key): AESGCM(key) for key in keys}
        self.current = _key_id(keys[0])

    @classmethod
    def from_setting(cls, value: str) -> Sealer:
        """Keys from `DEXTER_ENCRYPTION_KEY`: URL-safe base64 keys separated by commas."""
        keys = []
        for position, text in enumerate(part.strip() for part in value.split(",")):
            try:
                key = base64.urlsafe_b64decode(text.encode())
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != KEY_BYTES:
                raise EncryptionKeyError(
                    f"key {position + 1} of {SETTING} is not {KEY_BYTES} bytes of URL-safe "
                    "base64; make one with `python app.py new-key`"
                )
            keys.append(key)
        return cls(keys)

    def seal(self, plain: bytes, where: bytes) -> bytes:
        nonce = os.urandom(12)
        header = _HEADER.pack(MARKER, VERSION, self.current, nonce)
        return header + self._ciphers[self.current].encrypt(nonce, plain, where)

    def open(self, sealed: bytes, where: bytes) -> bytes:
        """The plain bytes. Raises `EncryptionKeyError` naming the setting if no key fits (the
        whole store is unreadable), `CorruptTurn` if this one value was altered or moved (the
        store skips it, as it skips any corrupt turn)."""
        try:
            marker, version, key_id, nonce = _HEADER.unpack_from(sealed)
        except struct.error:
            raise EncryptionKeyError("a sealed value is truncated") from None
        cipher = self._ciphers.get(key_id)
        if marker != MARKER or version != VERSION or cipher is None:
            raise EncryptionKeyError(
                f"a value was sealed with key {key_id.hex()}, which is not in {SETTING} "
                "(keep the old key after the new one until `python app.py rotate-key` ran)"
            )
        try:
            return cipher.decrypt(nonce, sealed[_HEADER.size :], where)
        except InvalidTag:
            raise CorruptTurn(
                f"a value sealed with key {key_id.hex()} does not open here: it was altered "
                "or moved from another row"
            ) from None

    def is_current(self, sealed: bytes) -> bool:
        """Sealed with the first key: nothing for a rotation to do."""
        return is_sealed(sealed) and sealed[2:6] == self.current

    def seal_text(self, text: str, where: bytes) -> str:
        """For text fields: the sealed bytes as base64 after `TEXT_PREFIX`."""
        return TEXT_PREFIX + base64.b64encode(self.seal(text.encode(), where)).decode()


def opened(sealer: Sealer | None, value: bytes, where: bytes) -> bytes:
    """`value` as written: opened if sealed, as it is if it was written in the clear."""
    if not is_sealed(value):
        return value
    if sealer is None:
        raise EncryptionKeyError(f"the store holds encrypted turns: set {SETTING} to read them")
    return sealer.open(value, where)


def opened_turn(sealer: Sealer | None, session_id: str, seq: int, stored: bytes) -> Turn:
    """The turn a store kept as `stores.codec` bytes, sealed or in the clear; raises
    `CorruptTurn` (skip it) or `EncryptionKeyError` (no configured key fits)."""
    return decode_turn(opened(sealer, stored, turn_place(session_id, seq)), seq=seq)


def opened_first_question(sealer: Sealer | None, session_id: str, stored: bytes) -> str:
    """A session's first question as written, or "" (logged) if it will not open: a
    listing shows the session anyway."""
    try:
        return opened(sealer, stored, first_question_place(session_id)).decode()
    except CorruptTurn as exc:
        log.warning("the first question of session %s will not open: %s", session_id, exc)
        return ""


def opened_text(sealer: Sealer | None, text: str, where: bytes) -> str:
    """A text field as written: opened if it carries `TEXT_PREFIX`, else as it is."""
    if not text.startswith(TEXT_PREFIX):
        return text
    try:
        sealed = base64.b64decode(text[len(TEXT_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionKeyError("a sealed text field is not base64") from None
    return opened(sealer, sealed, where).decode()


def sealed_payload(sealer: Sealer | None, key: str, payload: str) -> str:
    """A pending question's payload as the inbox keeps it."""
    return payload if sealer is None else sealer.seal_text(payload, place("pending", key))


def opened_payload(sealer: Sealer | None, key: str, payload: str) -> str:
    """A pending question's payload as written, or "" (which the bot drops with a warning)
    if it will not open: one unreadable question must not stop the others."""
    try:
        return opened_text(sealer, payload, place("pending", key))
    except (CorruptTurn, EncryptionKeyError) as exc:
        log.error("the question %s will not open: %s", key, exc)
        return ""


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:4]
