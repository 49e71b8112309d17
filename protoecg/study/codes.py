"""Reviewer access codes: generated from an unambiguous alphabet, stored only as salted scrypt
hashes, looked up by a short prefix (so a login hashes one or two candidates, not all)."""

from __future__ import annotations

import hashlib
import secrets

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes get read aloud


def normalise(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def hash_code(code: str, salt: str) -> str:
    """scrypt of the normalised code: slow to brute-force, salted per reviewer."""
    return hashlib.scrypt(normalise(code).encode(), salt=bytes.fromhex(salt), n=2**14, r=8,
                          p=1, dklen=32).hex()


def new_code() -> str:
    """``XXXX-XXXX-XXXX`` from an unambiguous alphabet (about 60 bits)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def new_salt() -> str:
    return secrets.token_hex(16)


def code_prefix(code: str) -> str:
    return normalise(code)[:4]
