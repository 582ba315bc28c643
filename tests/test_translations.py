"""The message catalogs: the Chinese one translates every message, its compiled file is current, and
``make messages`` (makemessages over the source) finds nothing the catalogs do not already hold."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from tests.required import unavailable

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
# What makemessages reads (Makefile: tests, bench and the virtualenv are left out).
SOURCES = ("config", "core", "coupons", "demo", "marketing", "orders", "templates", "webhooks", "static", "manage.py")

Entry = tuple[str, str]  # (msgctxt, msgid)


class Message(NamedTuple):
    flags: set[str]
    plural: bool
    translations: list[str]  # one per plural form


def catalog(path: Path) -> dict[Entry, Message]:
    """The entries of a .po file, by (context, id)."""
    entries: dict[Entry, Message] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        flags: set[str] = set()
        fields: dict[str, str] = {}
        current = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif match := re.match(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$', line):
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            translations = [value for key, value in sorted(fields.items()) if key.startswith("msgstr")]
            entries[(fields.get("msgctxt", ""), fields["msgid"])] = Message(
                flags, "msgid_plural" in fields, translations
            )
    return entries


def unescape(text: str) -> str:
    """A .po string's C escapes (\\", \\n, \\\\) as the characters they stand for."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def test_the_chinese_catalog_translates_every_message():
    entries = catalog(ZH / "django.po")

    fuzzy = [msgid for (_ctx, msgid), message in entries.items() if "fuzzy" in message.flags]
    untranslated = [msgid for (_ctx, msgid), message in entries.items() if not all(message.translations)]

    assert len(entries) > 700
    assert fuzzy == []
    assert untranslated == []


def test_the_compiled_chinese_catalog_is_current():
    with (ZH / "django.mo").open("rb") as compiled:
        messages = gettext.GNUTranslations(compiled)

    for (context, msgid), message in catalog(ZH / "django.po").items():
        key = unescape(msgid if not context else f"{context}\x04{msgid}")
        found = messages._catalog.get((key, 0) if message.plural else key)  # type: ignore[attr-defined]
        assert found == unescape(message.translations[0]), msgid


def test_make_messages_finds_nothing_new(tmp_path):
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        unavailable("makemessages needs GNU gettext (apt-get install gettext)")
    # given a copy of the sources and the catalogs
    for name in (*SOURCES, "locale"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)

    # when makemessages runs there, as `make messages` does
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-l", "en", "--no-obsolete"],
        cwd=tmp_path,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.local", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        check=True,
        capture_output=True,
    )

    # then every catalog holds the same messages with the same translations and flags
    for language in ("zh_Hans", "en"):
        relative = Path("locale") / language / "LC_MESSAGES" / "django.po"
        assert catalog(tmp_path / relative) == catalog(ROOT / relative), language
