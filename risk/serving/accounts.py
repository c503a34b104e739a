"""Who is asking: named accounts with roles, sessions, sign-in limits, service tokens, CSRF.

Reads and writes the team database (risk/teamdb.py). Used by the page
(page.py), the operator's page (operator.py), the API's token check (app.py)
and users.py (the command that adds users and tokens).

- Passwords are hashed with Werkzeug's scrypt helper (already a dependency of
  Flask; memory-hard, salted); a wrong user name costs the same time as a
  wrong password.
- A session is a random 256-bit value in an HttpOnly, SameSite=Strict cookie
  (Secure over HTTPS); the database keeps only its SHA-256, its user, role,
  form token and expiry, so logout ends it on the server and a copied cookie
  dies with it.
- Wrong sign-ins: `login_max_failures` wrong passwords in a row lock the
  account for `login_lockout_minutes`; more than `login_address_per_minute`
  from one address get 429. Each refusal is one WARNING log line (user name
  and address, never the password) and an audit row.
- Service tokens (users.py token add) carry a scope, `read` or
  `write-actions`, and are stored as SHA-256 (they are 256-bit random values,
  so a fast hash is enough). The single token of old (RISK_API_TOKEN or
  api_token_file) still works as an admin, with a deprecation warning once.
- With no user, no service token and no old token the page is open (as
  before), with a loud warning when served beyond loopback.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g
from werkzeug.security import check_password_hash, generate_password_hash

from risk.config import Config
from risk.teamdb import ROLES, SCOPES, TeamDb

log = logging.getLogger("accounts")

MIN_PASSWORD = 10
ADMIN_SCOPE = "admin"  # the old single token: every scope


@dataclass(frozen=True)
class Who:
    """The person or service behind a request."""
    name: str
    role: str                  # manager, operator, admin (a service: its scope)
    kind: str                  # session, token, legacy, open
    csrf: str | None = None    # the session's form token
    session_hash: str | None = None

    @property
    def operator(self) -> bool:
        return self.role in ("operator", "admin")

    @property
    def can_write_actions(self) -> bool:
        return self.kind in ("session", "open") or self.role in ("write-actions", ADMIN_SCOPE, "admin")


class SignInRefused(Exception):
    """A refused sign-in: the message for the form and the HTTP status."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def same(given: str, expected: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII str, and a form or header may hold it.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_password_rules(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.lower() == name.lower():
        raise ValueError("the password must not be the user name")


@dataclass
class Accounts:
    """One per app: the config, the old token, and what is logged once."""
    cfg: Config
    legacy_token: str | None
    _warned: set[str] = field(default_factory=set)
    _dummy_hash: str = ""
    _threads: threading.local = field(default_factory=threading.local)

    def db(self) -> TeamDb:
        """A new connection to the team database (close it: `with accounts.db() as db`)."""
        return TeamDb(self.cfg.team_db_path)

    def thread_db(self) -> TeamDb:
        """This thread's connection, kept open: closing the last connection to a WAL database
        checkpoints it (~3 ms of fsyncs), which a request should not pay."""
        db = getattr(self._threads, "db", None)
        if db is None:
            db = self._threads.db = TeamDb(self.cfg.team_db_path)
        return db

    def once(self, key: str, level: int, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.log(level, message, *args)

    # --- modes -------------------------------------------------------------------
    def page_open(self, db: TeamDb) -> bool:
        """No account and no old token: the page asks nobody (as before accounts existed)."""
        return self.legacy_token is None and not db.has_users()

    def api_open(self, db: TeamDb) -> bool:
        """No user, no service token and no old token: the API's read endpoints ask nobody."""
        return self.legacy_token is None and not db.has_tokens() and not db.has_users()

    # --- sign-in -----------------------------------------------------------------
    def sign_in(self, db: TeamDb, name: str, password: str, address: str) -> tuple[Who, str]:
        """A new session for `name` and the cookie value that names it, or SignInRefused."""
        cfg, at = self.cfg, time.time()
        db.forget_failures_before(at - 3600)
        if db.failures_since(address, at - 60) >= cfg.login_address_per_minute:
            log.warning("sign-in refused for %r from %s: too many wrong sign-ins from this address",
                        name[:64], address)
            raise SignInRefused("Too many wrong sign-ins from your address: wait a minute.", 429)
        if not name and self.legacy_token is not None and same(password, self.legacy_token):
            self.once("legacy-page", logging.WARNING, "signed in with the old shared token (%s): deprecated, "
                      "add named accounts with users.py add", "RISK_API_TOKEN or api_token_file")
            return self._start(db, "admin (token)", "admin", address)
        user = db.user(name) if name else None
        if user is None or user["disabled"]:
            check_password_hash(self._dummy(), password)  # the same time as a real check
            return self._refuse(db, name, address, "no such active user")
        if user["locked_until"] and user["locked_until"] > iso(at):
            db.failure_from(address, at)
            log.warning("sign-in refused for %r from %s: account locked until %s", name, address, user["locked_until"])
            db.audit(name, "sign-in refused", detail=f"locked, from {address}")
            raise SignInRefused(f"This account is locked after too many wrong passwords until "
                                f"{user['locked_until'][11:16]} UTC; an admin can unlock it sooner.", 423)
        if not check_password_hash(user["password_hash"], password):
            failed = db.count_failure(name, cfg.login_max_failures, iso(at + 60 * cfg.login_lockout_minutes))
            if failed >= cfg.login_max_failures:
                log.warning("account %r locked for %g minutes after %d wrong passwords (last from %s)",
                            name, cfg.login_lockout_minutes, failed, address)
                db.audit(name, "account locked", detail=f"{failed} wrong passwords, last from {address}")
            return self._refuse(db, name, address, f"wrong password ({failed} in a row)")
        if user["failed"] or user["locked_until"]:
            db.set_user(name, failed=0, locked_until=None)
        return self._start(db, name, user["role"], address)

    def _dummy(self) -> str:
        if not self._dummy_hash:
            self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _refuse(self, db: TeamDb, name: str, address: str, why: str) -> tuple[Who, str]:
        db.failure_from(address, time.time())
        log.warning("sign-in refused for %r from %s: %s", name[:64], address, why)
        db.audit(name[:64] or "-", "sign-in refused", detail=f"{why}, from {address}")
        raise SignInRefused("Wrong user name or password.")

    def _start(self, db: TeamDb, name: str, role: str, address: str) -> tuple[Who, str]:
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        db.forget_expired_sessions()
        db.add_session(digest(secret), name, role, csrf, iso(time.time() + 3600 * self.cfg.session_hours))
        db.audit(name, "sign-in", detail=f"from {address}")
        log.info("%s signed in from %s", name, address)
        return Who(name, role, "session", csrf, session_hash=digest(secret)), secret

    def session(self, db: TeamDb, cookie: str) -> Who | None:
        if not cookie:
            return None
        row = db.session(digest(cookie))
        if row is None:
            return None
        if row["user_name"] != "admin (token)":
            user = db.user(row["user_name"])
            if user is None or user["disabled"]:
                return None
            role = user["role"]  # a role changed by an admin counts at once
        else:
            role = row["role"]
        return Who(row["user_name"], role, "session", row["csrf"], session_hash=row["id_hash"])

    def sign_out(self, db: TeamDb, who: Who) -> None:
        if who.session_hash:
            db.end_session(who.session_hash)
        db.audit(who.name, "sign-out")

    # --- bearer tokens ---------------------------------------------------------------
    def bearer(self, db: TeamDb, header: str) -> Who | None:
        """The service (or old admin token) behind `Authorization: Bearer ...`, or None."""
        scheme, _, given = header.partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            return None
        if self.legacy_token is not None and same(given, self.legacy_token):
            self.once("legacy-api", logging.WARNING, "a client used the old shared API token: deprecated, "
                      "give each service its own with users.py token add NAME --scope read|write-actions")
            return Who("admin (token)", ADMIN_SCOPE, "legacy")
        row = db.token(digest(given))
        if row is None:
            return None
        return Who(f"service:{row['service']}", row["scope"], "token")

    def warn_if_open(self, db: TeamDb, host: str) -> None:
        if self.page_open(db) and not loopback(host):
            self.once(f"open-{host}", logging.WARNING,
                      "!!! THE PAGE AND API ARE OPEN TO ANYONE: served on %s with no user and no token. "
                      "Add a user (python users.py add NAME --role operator) or bind to 127.0.0.1 !!!", host)


def request_db() -> TeamDb:
    """The team database for this request: the serving thread's own connection."""
    if "team_db" not in g:
        g.team_db = current_app.extensions["risk"].accounts.thread_db()
    return g.team_db


def close_request_db(exc: BaseException | None = None) -> None:
    """After a request: nothing left open in a transaction (a failed one is rolled back)."""
    db = g.pop("team_db", None)
    if db is not None:
        db.rollback_open()


# --- what users.py does ------------------------------------------------------------------

def add_user(db: TeamDb, name: str, role: str, password: str, by: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum() or len(name) > 64:
        raise ValueError(f"a user name is letters, digits, '.', '-' or '_' (up to 64), got {name!r}")
    if db.user(name) is not None:
        raise ValueError(f"user {name!r} exists already (use users.py password or role)")
    check_password_rules(name, password)
    db.add_user(name, role, hash_password(password))
    db.audit(by, "user added", target=name, detail=f"role {role}")


def set_password(db: TeamDb, name: str, password: str, by: str) -> None:
    check_password_rules(name, password)
    if not db.set_user(name, password_hash=hash_password(password), failed=0, locked_until=None):
        raise ValueError(f"no user {name!r}")
    db.end_sessions_of(name)
    db.audit(by, "password reset", target=name)


def set_disabled(db: TeamDb, name: str, disabled: bool, by: str) -> None:
    if not db.set_user(name, disabled=int(disabled), failed=0, locked_until=None):
        raise ValueError(f"no user {name!r}")
    if disabled:
        db.end_sessions_of(name)
    db.audit(by, "user disabled" if disabled else "user enabled", target=name)


def set_role(db: TeamDb, name: str, role: str, by: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not db.set_user(name, role=role):
        raise ValueError(f"no user {name!r}")
    db.audit(by, "role changed", target=name, detail=role)


# The HTML standard's "valid e-mail address": no quoting, comments or line breaks to smuggle headers.
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def set_email(db: TeamDb, name: str, email: str, by: str) -> None:
    """Where `name`'s digest goes ('' removes it)."""
    email = email.strip()
    if email and (len(email) > 254 or not EMAIL.fullmatch(email)):
        raise ValueError(f"not an e-mail address: {email[:80]!r}")
    if not db.set_user(name, email=email):
        raise ValueError(f"no user {name!r}")
    db.audit(by, "e-mail set", target=name, detail=email or "(none)")


def set_digest(db: TeamDb, name: str, on: bool, by: str) -> None:
    """Whether `name` gets the digest of clients new in their top (config manager_digest)."""
    if not db.set_user(name, digest=int(on)):
        raise ValueError(f"no user {name!r}")
    db.audit(by, "digest on" if on else "digest off", target=name)


def add_token(db: TeamDb, service: str, scope: str, by: str) -> str:
    """A new token for `service` with `scope`; returns it (shown once, stored hashed)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if not service or len(service) > 64:
        raise ValueError("a service name is 1 to 64 characters")
    if any(t["service"] == service for t in db.tokens()):
        raise ValueError(f"service {service!r} has a token already (revoke it first)")
    token = secrets.token_urlsafe(32)
    db.add_token(service, scope, digest(token))
    db.audit(by, "token added", target=service, detail=scope)
    return token
