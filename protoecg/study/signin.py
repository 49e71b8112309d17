"""Signing in to a review study: an access code names its reviewer (``codes.py`` proves it),
wrong codes are throttled per browser tab and per client address (lockouts a researcher can
see and lift), and a session token keeps a signed-in browser signed in. The policy is here;
every statement runs in the store, one transaction each.

A browser tab is locked after a few typos, a client address (a hospital NAT shares one) only
after many more, so one colleague's typos lock out only their own tab.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping

from protoecg.study.codes import normalise
from protoecg.study.store import AuthError, Reviewer, ReviewStore, Study

# wrong codes per key (scope:who) within the window before its attempts are refused
THROTTLE_LIMITS = {"session": 5, "client": 30}
THROTTLE_WINDOW_S = 300.0
SESSION_TTL_S = 12 * 3600.0  # a signed-in browser stays signed in for a working day


def authenticate(store: ReviewStore, code: str, throttle: Mapping[str, str] | None = None,
                 window_s: float = THROTTLE_WINDOW_S,
                 limits: Mapping[str, int] | None = None) -> tuple[Study, Reviewer]:
    """The study and reviewer an access code belongs to.

    ``throttle``: scope -> key of who is signing in (e.g. ``{"session": "…", "client":
    "10.0.0.7"}``). A wrong code counts against every key; once a key has ``limits[scope]``
    wrong codes within ``window_s`` seconds, its attempts are refused (with how long to wait)
    without checking the code. Counting and recording happen in one transaction, so parallel
    guessers cannot get more checks than the limit. An empty code is not a guess.
    """
    if not normalise(code or ""):
        raise AuthError("enter your access code")
    keys = [f"{scope}:{key}" for scope, key in (throttle or {"client": "local"}).items()]
    limits = {**THROTTLE_LIMITS, **(limits or {})}
    started = time.time()

    def refuse(key: str, wrong: int, first: float | None) -> None:
        if wrong >= _limit(limits, key):
            wait = max(1, int(first + window_s - started + 0.999))
            raise AuthError(f"too many wrong codes; try again in {_duration(wait)}")

    # recorded as a wrong code up front: a correct code takes it back
    attempt = store.record_attempt(keys, started, started - window_s, refuse)
    row = store.code_holder(code)
    if row is None:
        raise AuthError("unknown access code")
    return store.record_sign_in(row, code, attempt)


def lockouts(store: ReviewStore, window_s: float = THROTTLE_WINDOW_S,
             limits: Mapping[str, int] | None = None) -> list[dict]:
    """Who is locked out of signing in now: key, wrong codes in the window, seconds left."""
    limits = {**THROTTLE_LIMITS, **(limits or {})}
    now_s = time.time()
    return [{"key": key, "wrong_codes": wrong,
             "seconds_left": int(first + window_s - now_s + 0.999)}
            for key, wrong, first in store.recent_failures(now_s - window_s)
            if wrong >= _limit(limits, key)]


def clear_lockouts(store: ReviewStore, actor: str) -> int:
    """Lift every lockout (forget every recorded wrong code); returns how many were forgotten."""
    return store.clear_failures(actor)


def start_session(store: ReviewStore, reviewer: Reviewer, ttl_s: float = SESSION_TTL_S) -> str:
    """A new random session token for a reviewer who has just signed in (a browser keeps it,
    so that a reload does not sign them out); only its hash is stored."""
    token = secrets.token_urlsafe(24)
    store.add_session(reviewer, _token_hash(token), time.time() + ttl_s)
    return token


def resume_session(store: ReviewStore, token: str) -> tuple[Study, Reviewer]:
    """The study and reviewer of a live session token; AuthError when it is unknown, signed
    out or expired."""
    found = store.session(_token_hash(token or ""))
    if found is None or found[1] < time.time():
        raise AuthError("your session has ended; sign in with your access code")
    reviewer = found[0]
    return store.study_of(reviewer), reviewer


def end_session(store: ReviewStore, token: str) -> None:
    """Sign a session out (its token no longer signs anyone in)."""
    store.delete_session(_token_hash(token))


def _limit(limits: Mapping[str, int], key: str) -> int:
    return limits.get(key.split(":", 1)[0], THROTTLE_LIMITS["client"])


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
