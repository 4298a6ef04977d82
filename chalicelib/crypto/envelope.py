"""Envelope encryption: every value gets its own data key; only the wrapped data key touches the keyring.

Two keyrings share one envelope format: ``LocalKeyring`` (a master key file, mode 0600, created on first start;
data keys wrapped with XChaCha20-Poly1305 whose associated data is the encryption context) and ``KmsKeyring``
(KMS GenerateDataKey / Decrypt with the same context as KMS EncryptionContext). The value itself is sealed with a
PyNaCl SecretBox under the data key. Nothing here logs or echoes plaintext.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Any, Protocol

from nacl import bindings
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random

from chalicelib.domain.errors import FngateError, Unavailable


class DecryptionFailed(FngateError):
    template = "Stored value could not be decrypted"


class Keyring(Protocol):
    name: str

    def generate_data_key(self, context: dict[str, str]) -> tuple[bytes, str, str]:
        """(plaintext data key, wrapped data key as text, key id)."""
        ...

    def unwrap(self, wrapped: str, key_id: str, context: dict[str, str]) -> bytes:
        ...

    def wrap_current(self, data_key: bytes, context: dict[str, str]) -> tuple[str, str]:
        """(wrapped data key, key id) under the current master key: re-wrapping for rotation."""
        ...

    def is_current(self, key_id: str) -> bool:
        ...


def _aad(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


class LocalKeyring:
    """Master keys live in files under ``key_dir``: ``master-<id>.key`` (0600); ``current`` names the active one."""

    name = "local"

    def __init__(self, key_dir: str | Path) -> None:
        self._dir = Path(key_dir)
        self._keys: dict[str, bytes] = {}
        self.current_id = self._load_or_create()

    def _load_or_create(self) -> str:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pointer = self._dir / "current"
        if pointer.exists():
            return pointer.read_text().strip()
        return self.add_key()

    def _refresh(self) -> str:
        """Follow the ``current`` pointer, so a running server seals under a key rotated in by `fngate admin`."""
        with contextlib.suppress(OSError):
            self.current_id = (self._dir / "current").read_text().strip() or self.current_id
        return self.current_id

    def key_ids(self) -> list[str]:
        return sorted(p.name[len("master-"):-len(".key")] for p in self._dir.glob("master-*.key"))

    def remove_key(self, key_id: str) -> None:
        """Delete a retired master key file; only after no record references it (rotation checks that)."""
        if key_id == self._refresh():
            raise ValueError("the current master key cannot be removed")
        (self._dir / f"master-{key_id}.key").unlink(missing_ok=True)
        self._keys.pop(key_id, None)

    def add_key(self) -> str:
        """Create a new master key and make it current (rotation); old keys stay readable."""
        key_id = base64.b32encode(os.urandom(5)).decode().lower()
        path = self._dir / f"master-{key_id}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(random(32))
        tmp = self._dir / "current.tmp"
        tmp.write_text(key_id)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._dir / "current")  # atomic: a crash leaves the old or the new pointer, never none
        self.current_id = key_id
        return key_id

    def _master(self, key_id: str) -> bytes:
        if key_id not in self._keys:
            try:
                self._keys[key_id] = (self._dir / f"master-{key_id}.key").read_bytes()
            except OSError:
                raise DecryptionFailed() from None
        return self._keys[key_id]

    def generate_data_key(self, context: dict[str, str]) -> tuple[bytes, str, str]:
        data_key, key_id = random(32), self._refresh()
        return data_key, self.wrap(data_key, context, key_id), key_id

    def wrap_current(self, data_key: bytes, context: dict[str, str]) -> tuple[str, str]:
        key_id = self._refresh()
        return self.wrap(data_key, context, key_id), key_id

    def is_current(self, key_id: str) -> bool:
        return key_id == self._refresh()

    def wrap(self, data_key: bytes, context: dict[str, str], key_id: str | None = None) -> str:
        key_id = key_id or self._refresh()
        nonce = random(bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        sealed = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(data_key, _aad(context), nonce,
                                                                    self._master(key_id))
        return base64.b64encode(nonce + sealed).decode()

    def unwrap(self, wrapped: str, key_id: str, context: dict[str, str]) -> bytes:
        raw = base64.b64decode(wrapped)
        n = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
        try:
            return bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(raw[n:], _aad(context), raw[:n],
                                                                       self._master(key_id))
        except CryptoError:
            raise DecryptionFailed() from None


class KmsKeyring:
    """AWS KMS: one GenerateDataKey per value, Decrypt to unwrap; the context is KMS's EncryptionContext.

    KMS automatic key rotation keeps every older backing key, so it needs no re-wrap. Re-wrapping (Decrypt +
    Encrypt under ``key_id``) is only for moving data keys to a different KMS key (config changed).
    """

    name = "kms"

    def __init__(self, key_id: str, client: Any = None, region_name: str | None = None) -> None:
        if client is None:
            import boto3  # only on AWS / in tests

            client = boto3.client("kms", region_name=region_name)
        self._kms, self.current_id = client, key_id
        self._arn = ""

    def generate_data_key(self, context: dict[str, str]) -> tuple[bytes, str, str]:
        out = self._kms.generate_data_key(KeyId=self.current_id, KeySpec="AES_256", EncryptionContext=context)
        return out["Plaintext"], base64.b64encode(out["CiphertextBlob"]).decode(), out["KeyId"]

    def unwrap(self, wrapped: str, key_id: str, context: dict[str, str]) -> bytes:
        from botocore.exceptions import ClientError

        try:
            out = self._kms.decrypt(CiphertextBlob=base64.b64decode(wrapped), EncryptionContext=context)
        except ClientError:
            raise DecryptionFailed() from None
        return out["Plaintext"]

    def wrap_current(self, data_key: bytes, context: dict[str, str]) -> tuple[str, str]:
        from botocore.exceptions import ClientError

        try:
            out = self._kms.encrypt(KeyId=self.current_id, Plaintext=data_key, EncryptionContext=context)
        except ClientError:
            raise Unavailable(detail="the key service refused to wrap a data key") from None
        return base64.b64encode(out["CiphertextBlob"]).decode(), out["KeyId"]

    def is_current(self, key_id: str) -> bool:
        """Envelopes record the key ARN; the configured id may be an alias, a key id or the ARN itself."""
        if key_id == self.current_id:
            return True
        if not self._arn:
            self._arn = self._kms.describe_key(KeyId=self.current_id)["KeyMetadata"]["Arn"]
        return key_id == self._arn


def seal(keyring: Keyring, plaintext: bytes, context: dict[str, str]) -> dict[str, str]:
    """An envelope (a JSON-able dict) holding ``plaintext`` encrypted under a fresh data key."""
    data_key, wrapped, key_id = keyring.generate_data_key(context)
    box = SecretBox(data_key[:32])
    return {"v": "1", "keyring": keyring.name, "kid": key_id, "wk": wrapped,
            "ct": base64.b64encode(bytes(box.encrypt(plaintext))).decode()}


def open_envelope(keyring: Keyring, envelope: dict[str, str], context: dict[str, str]) -> bytes:
    data_key = keyring.unwrap(envelope["wk"], envelope["kid"], context)
    try:
        return SecretBox(data_key[:32]).decrypt(base64.b64decode(envelope["ct"]))
    except CryptoError:
        raise DecryptionFailed() from None


def rewrap(keyring: Keyring, envelope: dict[str, str], context: dict[str, str]) -> dict[str, str]:
    """The same envelope with its data key wrapped under the current key; the sealed value is not touched."""
    data_key = keyring.unwrap(envelope["wk"], envelope["kid"], context)
    wrapped, key_id = keyring.wrap_current(data_key, context)
    return {**envelope, "keyring": keyring.name, "kid": key_id, "wk": wrapped}
