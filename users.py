"""Manage the people and services who use the page and the API: users, roles, passwords, tokens.

    python users.py add anna --role manager [--email anna@example.com]  # asks for the password twice
    python users.py email anna anna@example.com      # where anna's digest goes ('' removes it)
    python users.py digest anna off | on             # anna's digest of clients new in her top
    python users.py password anna                    # reset it (ends anna's sessions)
    python users.py role anna operator
    python users.py disable anna | enable anna       # disabling ends anna's sessions
    python users.py unlock anna                      # before a lockout runs out
    python users.py list
    python users.py token add crm --scope write-actions   # prints the token once
    python users.py token revoke crm
    python users.py audit                            # the last 50 things done, newest first

Writes the team database (config key team_db_path, default history/team.sqlite).
Passwords are read from the terminal (or, for scripts, one line on stdin with
--password-stdin), never from the command line, and stored as scrypt hashes;
tokens are shown once and stored as SHA-256. Each change is in the audit trail.
"""
from __future__ import annotations

import argparse
import getpass
import logging
import sys

from risk import config
from risk.errors import StepError
from risk.serving import accounts
from risk.teamdb import ROLES, SCOPES, TeamDb

log = logging.getLogger("users")
BY = "users.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--config", default=str(config.DEFAULT_CONFIG), help="config.json (default: beside this script)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--email", default="", help="where the manager's digest goes")
    email = sub.add_parser("email", help="set a user's e-mail address ('' removes it)")
    email.add_argument("name")
    email.add_argument("address")
    digest = sub.add_parser("digest", help="switch a manager's digest e-mail on or off")
    digest.add_argument("name")
    digest.add_argument("state", choices=("on", "off"))
    for name in ("password", "disable", "enable", "unlock"):
        sub.add_parser(name, help=f"{name} a user").add_argument("name")
    role = sub.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    sub.add_parser("list", help="users and service tokens")
    sub.add_parser("audit", help="the last 50 entries of the audit trail")
    token = sub.add_parser("token", help="service tokens for the API")
    tsub = token.add_subparsers(dest="token_command", required=True)
    tadd = tsub.add_parser("add", help="a new token for a service (printed once)")
    tadd.add_argument("service")
    tadd.add_argument("--scope", choices=SCOPES, required=True)
    tsub.add_parser("revoke", help="revoke a service's token").add_argument("service")
    return p.parse_args(argv)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run(args: argparse.Namespace, db: TeamDb) -> str:
    """Carry out the command; returns what to print."""
    c = args.command
    if c == "add":
        if args.email and not accounts.EMAIL.fullmatch(args.email.strip()):
            raise ValueError(f"not an e-mail address: {args.email[:80]!r}")
        accounts.add_user(db, args.name, args.role, read_password(args.password_stdin), BY)
        if args.email:
            accounts.set_email(db, args.name, args.email, BY)
        return f"added {args.name} ({args.role})"
    if c == "email":
        accounts.set_email(db, args.name, args.address, BY)
        return f"{args.name}'s e-mail is {args.address.strip() or 'removed'}"
    if c == "digest":
        accounts.set_digest(db, args.name, args.state == "on", BY)
        return f"{args.name}'s digest is {args.state}"
    if c == "password":
        accounts.set_password(db, args.name, read_password(args.password_stdin), BY)
        return f"password of {args.name} reset; their sessions ended"
    if c in ("disable", "enable"):
        accounts.set_disabled(db, args.name, c == "disable", BY)
        return f"{args.name} {c}d"
    if c == "unlock":
        if not db.set_user(args.name, failed=0, locked_until=None):
            raise ValueError(f"no user {args.name!r}")
        db.audit(BY, "user unlocked", target=args.name)
        return f"{args.name} unlocked"
    if c == "role":
        accounts.set_role(db, args.name, args.role, BY)
        return f"{args.name} is now {args.role}"
    if c == "list":
        lines = [f"{u['name']}\t{u['role']}\t{'disabled' if u['disabled'] else 'active'}\t{u['email'] or '-'}"
                 f"\t{'digest' if u['digest'] else 'no digest'}" for u in db.users()]
        lines += [f"service:{t['service']}\t{t['scope']}\t{'revoked' if t['disabled'] else 'active'}" for t in db.tokens()]
        return "\n".join(lines) or "no users or tokens yet"
    if c == "audit":
        return "\n".join(f"{a['at']}\t{a['who']}\t{a['what']}\t{a['target']}\t{a['detail']}"
                         for a in db.audit_rows(50)) or "nothing recorded yet"
    if args.token_command == "add":
        return accounts.add_token(db, args.service, args.scope, BY)
    if not db.disable_token(args.service):
        raise ValueError(f"no token for service {args.service!r}")
    db.audit(BY, "token revoked", target=args.service)
    return f"token of {args.service} revoked"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = config.load(args.config)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with TeamDb(cfg.team_db_path) as db:
            print(run(args, db))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (StepError, EOFError, KeyboardInterrupt) as exc:
        print(f"error: {exc or 'no password given'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
