"""Who a person is handed over to: the school office and the Designated Safeguarding Lead (issue 18).

A school gives them in its ``school.toml``::

    [contacts.office]
    email = "office@school.example"
    phone = "01632 960000"
    url = "https://www.school.example/contact"   # the school's contact form
    hours = "Monday to Friday, 8.30am to 4pm"

    [contacts.dsl]
    role = "Designated Safeguarding Lead (Headteacher)"
    email = "dsl@school.example"
    phone = "01632 960001"

Every key is optional; a school without contacts is handed over with "ask the school office".
`contacts_of` validates them at ingest and load (`assistant.loading`): a bad email, a URL
that is not ``http(s)://``, a phone number with letters or an unknown key is a `CorpusError`
naming the file and the key. At serving, `ContactBook` reads them from the ``school.toml``
beside the school's documents (re-read when the file changes, so no re-ingest is needed),
as `assistant.web.origins` does for ``widget_origins``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorpusError
from .school_files import SchoolFileReader, read_school_toml
from .types import Handover

if TYPE_CHECKING:
    from .index import SchoolEntry

log = logging.getLogger(__name__)

#: The UK emergency number, given with every safeguarding answer.
EMERGENCY_NUMBER = "999"
#: Said when a school has no contact of the kind needed.
FALLBACK = "Please ask the school office."

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,24}$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s<>\"']*)?$")
_KEYS = {"office": ("email", "phone", "url", "hours"), "dsl": ("role", "email", "phone", "url", "hours")}
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Contact:
    """One way to reach a person at the school; every field may be None.

    Attributes:
        role: who it is ("School office", "Designated Safeguarding Lead (Headteacher)").
        email, phone: as the school writes them; url: an ``http(s)://`` page (a contact form);
        hours: when someone answers ("Monday to Friday, 8.30am to 4pm").
    """

    role: str
    email: str | None = None
    phone: str | None = None
    url: str | None = None
    hours: str | None = None

    @property
    def reachable(self) -> bool:
        """True when the contact has an email, phone or web address."""
        return bool(self.email or self.phone or self.url)

    @property
    def mailto(self) -> str | None:
        """A ``mailto:`` link, or None."""
        return f"mailto:{self.email}" if self.email else None

    @property
    def tel(self) -> str | None:
        """A ``tel:`` link (digits and a leading +), or None."""
        if not self.phone:
            return None
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)

    def sentence(self) -> str:
        """How to reach this contact in words: "email x, phone y or use the form at z (hours)"."""
        ways = [f"email {self.email}" if self.email else "", f"phone {self.phone}" if self.phone else ""]
        ways.append(f"use the contact form at {self.url}" if self.url else "")
        ways = [w for w in ways if w]
        said = ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + " or " + ways[-1] if ways else ""
        return f"{said} ({self.hours})" if said and self.hours else said


@dataclass(frozen=True, slots=True)
class SchoolContacts:
    """A school's office and Designated Safeguarding Lead contacts (either may be None)."""

    office: Contact | None = None
    dsl: Contact | None = None


NO_CONTACTS = SchoolContacts()


def contacts_of(meta: dict, meta_path: Path) -> SchoolContacts:
    """The ``[contacts]`` of a parsed ``school.toml`` (see the module docstring).

    Raises:
        CorpusError: naming ``meta_path`` and the key: not a table, an unknown key, a value that
            is not text, an email that is not an address, a URL that is not ``http(s)://``, a
            phone number with anything but digits, spaces, ``+``, ``-`` and brackets.
    """
    table = meta.get("contacts")
    if table is None:
        return NO_CONTACTS
    if not isinstance(table, dict):
        raise CorpusError(meta_path, "contacts must be a table: [contacts.office] and [contacts.dsl]")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise CorpusError(meta_path, f"contacts.{unknown[0]} is not a known contact (use contacts.office or contacts.dsl)")
    found: dict[str, Contact | None] = {}
    for kind, keys in _KEYS.items():
        entry = table.get(kind)
        if entry is None:
            found[kind] = None
            continue
        if not isinstance(entry, dict):
            raise CorpusError(meta_path, f"contacts.{kind} must be a table ([contacts.{kind}] with {', '.join(keys)})")
        bad = sorted(set(entry) - set(keys))
        if bad:
            raise CorpusError(meta_path, f"contacts.{kind}.{bad[0]} is not a known key (use {', '.join(keys)})")
        values: dict[str, str] = {}
        for key in keys:
            value = entry.get(key)
            if value is None:
                continue
            where = f"contacts.{kind}.{key}"
            if not isinstance(value, str) or not value.strip():
                raise CorpusError(meta_path, f"{where} must be non-empty text, not {value!r}")
            value = value.strip()
            if not value.isprintable():
                raise CorpusError(meta_path, f"{where} must be one line of text (no line breaks or control characters)")
            if len(value) > _MAX_TEXT:
                raise CorpusError(meta_path, f"{where} is longer than {_MAX_TEXT} characters")
            if key == "email" and not _EMAIL.match(value):
                raise CorpusError(meta_path, f"{where} = {value!r} is not an email address like office@school.sch.uk")
            if key == "phone" and (not _PHONE.match(value) or len(re.sub(r"\D", "", value)) < 6):
                raise CorpusError(meta_path, f"{where} = {value!r} is not a phone number (digits, spaces, +, - and brackets only)")
            if key == "url" and not _URL.match(value):
                raise CorpusError(meta_path, f"{where} = {value!r} is not a web address starting http:// or https://")
            values[key] = value
        default_role = "School office" if kind == "office" else "Designated Safeguarding Lead"
        found[kind] = Contact(role=values.pop("role", default_role), **values)
    return SchoolContacts(office=found["office"], dsl=found["dsl"])


def read_contacts(meta_path: Path) -> SchoolContacts:
    """The contacts of the ``school.toml`` at ``meta_path`` (see `contacts_of`).

    Raises:
        CorpusError: the file cannot be read, is not TOML, or a contact is malformed.
    """
    meta = read_school_toml(meta_path)
    return contacts_of(meta, meta_path)


_CONTACT_DETAILS = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|(?<![\d£$€.,])(?:\+44\s?|0)(?:\d[\s-]?){9,10}(?!\d)",
)


def has_contact_details(text: str) -> bool:
    """True when ``text`` holds an email address or a UK phone number (someone left a way to reach them)."""
    return bool(_CONTACT_DETAILS.search(text))


def handover_for(contacts: SchoolContacts, reason: str, question: str = "") -> Handover:
    """The `Handover` for an answer: whom to contact, and the words that say so.

    Args:
        contacts: the school's.
        reason: ``not_covered``, ``unsure``, ``safeguarding`` or ``contact_details`` (the asker
            typed an email or phone number).
        question: as asked (checked for contact details).
    """
    office, dsl = contacts.office, contacts.dsl
    if reason == "safeguarding":
        message = safeguarding_message(contacts)
    elif office is not None and office.reachable:
        message = f"To talk to someone, contact the school office: {office.sentence()}."
    else:
        message = FALLBACK
    return Handover(
        reason=reason,
        message=message,
        office=office.to_dict() if office else None,
        dsl=dsl.to_dict() if dsl else None,
        emergency=EMERGENCY_NUMBER if reason == "safeguarding" else None,
        contact_details=has_contact_details(question),
    )


def safeguarding_message(contacts: SchoolContacts) -> str:
    """The fixed first words of a safeguarding answer: the DSL, how to reach them now, and 999."""
    dsl, office = contacts.dsl, contacts.office
    role = dsl.role if dsl else "Designated Safeguarding Lead"
    if dsl is not None and dsl.reachable:
        reach = f"Contact them now: {dsl.sentence()}."
    elif office is not None and office.reachable:
        reach = f"Contact the school office now and ask for them: {office.sentence()}."
    else:
        reach = "Contact the school office now and ask for them."
    return (
        f"This may be a safeguarding concern, so please don't wait: tell the school's {role}, "
        f"who is responsible for keeping children safe. {reach} If anyone is in immediate danger, call {EMERGENCY_NUMBER}."
    )


class ContactBook:
    """Each served school's contacts, read from the ``school.toml`` beside its documents.

    The file is read by `assistant.school_files.SchoolFileReader`, which re-reads it when it changes.

    A file that is missing (an app without the corpus) or malformed (logged) gives the school
    no contacts, so answers fall back to "ask the school office".
    """

    def __init__(self) -> None:
        """Set up the reader of ``school.toml`` files (nothing is read until a school is asked for)."""
        self._reader = SchoolFileReader(read_contacts, NO_CONTACTS, "answers fall back to 'ask the school office'")

    def contacts(self, school_meta: SchoolEntry | None) -> SchoolContacts:
        """The contacts of a school, given its entry in the index manifest."""
        found = self._reader.value(school_meta)
        return NO_CONTACTS if found is None else found


_book = ContactBook()


def shared_contact_book() -> ContactBook:
    """The process's `ContactBook` (one cache of ``school.toml`` reads for every assistant)."""
    return _book
