"""Client ids as data: what an extract can put in one, made safe to show, link and export.

An id is whatever text the extract holds: a spreadsheet formula, a zero-width
character, a Cyrillic 'а' in a Latin name, '.', '..', a line break, hundreds of
characters. The page and its CSV use these helpers so that such an id
  - is never run by a spreadsheet (`csv_cell`: OWASP's rule, a leading quote),
  - is visibly marked where it could pass for another client (`unusual`, `visible`),
  - links to its own page (`link_key`, `in_path`): odd ids by a short hash, never a
    path a browser or server would rewrite ('.', '..', '/', line breaks) or refuse (length).

Look-alikes are judged with Unicode's confusables data (confusable_homoglyphs,
TR39): an id mixing scripts where one letter can pass for another's, or written
wholly in another script with every letter an ASCII look-alike ('аcme', 'асе').
A name wholly in Cyrillic or CJK that cannot pass for a Latin one is not marked.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote, urlsplit

from confusable_homoglyphs import confusables

# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Ids linked by name: word characters, '-', '.', '~', up to this long; others by hash.
PATH_SAFE = re.compile(r"[\w\-.~]{1,100}")
KEY_CHARS = 16  # hex digits of SHA-256: 64 bits, no collision among millions of clients
INVISIBLE_CATEGORIES = {"Cf", "Cc", "Co", "Cn", "Zl", "Zp"}


def csv_cell(value: object) -> object:
    """`value` as a CSV cell no spreadsheet runs: text starting like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_link(url: object) -> str:
    """`url` if it is an http(s) address with a host and no space or control character, else ''.
    What a CRM link from the data must be before the page puts it in an href (no javascript:)."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        return ""
    if any(ch.isspace() or unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else ""


def crm_links(corporations: list[str], given: list[str], template: str) -> list[str]:
    """Each client's CRM link: its own `crm_url` if safe, else the template with its id URL-quoted."""
    made = []
    for corporation, url in zip(corporations, given):
        link = safe_link(url)
        if not link and template:
            link = safe_link(template.replace("{corporation}", quote(corporation, safe="")))
        made.append(link)
    return made


def link_key(corporation: str) -> str:
    """A short, stable key for an id: what an odd id's link carries."""
    return hashlib.sha256(corporation.encode("utf-8", "surrogatepass")).hexdigest()[:KEY_CHARS]


def in_path(corporation: str) -> bool:
    """Whether the id can stand in the link's path as it is (else the link carries its key)."""
    return corporation not in (".", "..") and PATH_SAFE.fullmatch(corporation) is not None


def client_path(corporation: str) -> str:
    """The client page's path, as the page links it (page.client_link): by id, or by key."""
    if in_path(corporation):
        return f"/client/{quote(corporation, safe='')}"
    return f"/client?key={link_key(corporation)}"


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in INVISIBLE_CATEGORIES or (ch.isspace() and ch != " ")


def visible(corporation: str) -> str:
    """The id with each invisible or control character written out, e.g. 'acme⟨U+200B⟩corp'."""
    return "".join(f"⟨U+{ord(ch):04X}⟩" if _invisible(ch) else ch for ch in corporation)


def _ascii_lookalikes_only(corporation: str) -> bool:
    """Written in another script, every one of its letters has an ASCII look-alike."""
    letters = {ch for ch in corporation if ch.isalpha()}
    if not letters or all(ch.isascii() for ch in letters):
        return False
    found = confusables.is_confusable(corporation, greedy=True, preferred_aliases=["latin"]) or []
    ascii_alike = {f["character"] for f in found if any(h["c"].isascii() for h in f["homoglyphs"])}
    return letters <= ascii_alike | {ch for ch in letters if ch.isascii()}


def unusual(corporation: str) -> list[str]:
    """Why this id could pass for another client's, in words; [] for an ordinary id."""
    notes = []
    hidden = sorted({f"U+{ord(ch):04X}" for ch in corporation if _invisible(ch)})
    if hidden:
        notes.append(f"holds invisible or control characters ({', '.join(hidden[:5])})")
    if confusables.is_dangerous(corporation) or _ascii_lookalikes_only(corporation):
        notes.append("has letters from another alphabet that look like Latin ones")
    if corporation != corporation.strip():
        notes.append("starts or ends with a space")
    return notes
