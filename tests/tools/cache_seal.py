# SPDX-License-Identifier: Apache-2.0
"""The sealing of shared cache entries (common/b2c_seal.h), in Python, for tests that read
or plant raw entries on a real redis: the same HKDF-SHA256 derivation from a key file's
text, the same blob (version 1 | key id (8) | nonce (12) | ciphertext | GCM tag (16)) and
the same AAD (version | key id | context, the context being the cache key string)."""

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b'mod_b2c seal'
INFO_AES = b'mod_b2c seal v1 aes-256-gcm key'
INFO_ID = b'mod_b2c seal v1 key id'
VERSION = 1
OVERHEAD = 1 + 8 + 12 + 16


def _hkdf(secret, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=SALT, info=info).derive(secret)


class SealKey:
    """A key from a key file's content (one trailing newline dropped, as the module does)."""

    def __init__(self, content):
        if content.endswith(b'\n'):
            content = content[:-1]
            if content.endswith(b'\r'):
                content = content[:-1]
        self.aes = _hkdf(content, INFO_AES, 32)
        self.id = _hkdf(content, INFO_ID, 8)

    @classmethod
    def from_file(cls, path):
        with open(path, 'rb') as f:
            return cls(f.read())

    def seal(self, context, plain):
        hdr = bytes([VERSION]) + self.id
        nonce = os.urandom(12)
        return hdr + nonce + AESGCM(self.aes).encrypt(nonce, plain, hdr + context.encode())

    def peek(self, blob):
        """The plaintext of a blob sealed by this key under any context, unauthenticated
        (GCM is counter mode underneath; the tag binds the context we do not know from a
        redis key): for telling entries apart in tests only. None when not ours."""
        if len(blob) < OVERHEAD or blob[0] != VERSION or blob[1:9] != self.id:
            return None
        nonce, ct = blob[9:21], blob[21:-16]
        dec = Cipher(algorithms.AES(self.aes), modes.CTR(nonce + b'\0\0\0\2')).decryptor()
        return dec.update(ct) + dec.finalize()


def make_key_file(path, content=None):
    """A key file as `openssl rand -base64 32 > FILE` makes it, mode 0600."""
    import base64
    content = content or base64.b64encode(os.urandom(32)) + b'\n'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(content)
    return path
