"""Reviewer access codes: generated from an unambiguous alphabet, stored only as salted scrypt
hashes, found by a keyed hash of the whole code (so a sign-in hashes one candidate, and no part
of any code is stored in clear)."""

from __future__ import annotations

import hashlib
import hmac
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
    """The first 4 characters: how databases before schema 3 found a code (legacy rows only)."""
    return normalise(code)[:4]


def code_lookup(code: str, key: str) -> str:
    """HMAC-SHA256 of the normalised code under the database's key: an index, not a secret
    (the scrypt hash is what proves the code)."""
    return hmac.new(bytes.fromhex(key), normalise(code).encode(), hashlib.sha256).hexdigest()


def credentials(code: str, key: str) -> dict[str, str]:
    """What a reviewer row stores of a code: its keyed-hash lookup and a salted scrypt hash."""
    salt = new_salt()
    return {"code_lookup": code_lookup(code, key), "code_salt": salt,
            "code_hash": hash_code(code, salt)}


def holder(code: str, candidates: list[dict]) -> dict | None:
    """The candidate row (found by lookup or legacy prefix) whose scrypt hash proves ``code``,
    compared in constant time. A miss costs one scrypt too, so timing does not tell near
    misses from far ones."""
    if not candidates:
        hash_code(code, "00" * 16)
        return None
    for row in candidates:
        if row["code_hash"] and hmac.compare_digest(row["code_hash"],
                                                    hash_code(code, row["code_salt"])):
            return row
    return None
