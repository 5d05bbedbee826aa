"""Translations: gettext catalogs of privgate's own messages, and the texts plugins ship.

**Messages.** Every sentence privgate shows (the HTML reports, the terminal) is a msgid in
English looked up in a gettext catalog, ``<package>/locale/<lang>/LC_MESSAGES/<domain>.po``:
``privgate.reports`` (domain ``privgate``: the reports) and ``privgate`` (domain
``privgate-cli``: what the command line prints). Only the text ``.po`` files are shipped; each
is compiled in memory when first needed (:func:`translations`). :class:`Translator` fills the
``%(name)s`` placeholders and then chooses Korean particles by the final syllable of the word
before them (:mod:`privgate.particles`): a translation writes ``%(value)s이(가)``.

**Plugin texts: the ``PRIVGATE_TRANSLATIONS`` contract.** Policy titles and descriptions,
attack explanations, metric descriptions, figure captions and every other text a plugin
supplies are English; a plugin module (the one its entry point names) translates them by
declaring::

    PRIVGATE_TRANSLATIONS = {"ko": {"English text": "번역", ...}}   # a mapping per language
    PRIVGATE_TRANSLATIONS = "locale"   # or a folder beside the module holding gettext
                                       # catalogs: locale/<lang>/LC_MESSAGES/*.po
    PRIVGATE_TRANSLATIONS = ("locale", "my-plugin")   # or only .../LC_MESSAGES/my-plugin.po

Keys are the exact English text. A key may hold ``{name}`` placeholders, to translate text
with values in it: ``"{n} column pairs"`` -> ``"열 쌍 {n}개"`` translates "78 column pairs".
:func:`plugin_catalog` merges the catalogs of the plugin modules loaded in this process (it
never imports one: a disabled plugin stays unloaded), privgate's own first. An English
"translation" is allowed too: it rewords a plugin text for the report, e.g. to name the audited
table's own columns through the report's placeholders (``{quasi_identifiers}``,
``{sensitive}``, ``{columns}``: see :mod:`privgate.reports.words`).
"""

from __future__ import annotations

import gettext as _gettext
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata, resources
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from privgate.particles import resolve_particles

#: Languages privgate itself is translated into.
LANGS = ("en", "ko")
DEFAULT_LANG = "en"
#: The module attribute of a plugin that holds its translations.
TRANSLATIONS_ATTR = "PRIVGATE_TRANSLATIONS"
#: Babel keywords that mark translatable strings (templates and Python), for extraction;
#: ``N_`` marks a message translated later, where it is shown (privgate.progress).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def po_path(package: str, lang: str, domain: str) -> Any:
    """The ``.po`` catalog of ``lang`` inside ``package`` (a Traversable)."""
    return resources.files(package).joinpath("locale", lang, "LC_MESSAGES", f"{domain}.po")


def read_catalog(package: str, lang: str, domain: str) -> Catalog:
    """The Babel catalog of ``lang`` as written in its ``.po`` file (empty if absent)."""
    path = po_path(package, lang, domain)
    if not path.is_file():
        return Catalog(locale=lang, domain=domain)
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=domain)


@lru_cache(maxsize=16)
def translations(package: str, lang: str, domain: str) -> _gettext.NullTranslations:
    """gettext translations of ``package``'s ``domain`` for ``lang`` (English: the msgids)."""
    if lang == DEFAULT_LANG:
        return _gettext.NullTranslations()
    buf = BytesIO()
    write_mo(buf, read_catalog(package, lang, domain), use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def known_lang(code: Any) -> str:
    """``code`` if privgate speaks it, else English (older results, typos)."""
    text = str(code) if code else DEFAULT_LANG
    return text if text in LANGS else DEFAULT_LANG


@dataclass(frozen=True)
class Translator:
    """Messages of one catalog in one language: translated, filled, particles chosen."""

    lang: str = DEFAULT_LANG
    t: _gettext.NullTranslations = field(default_factory=_gettext.NullTranslations,
                                         repr=False, compare=False)

    @classmethod
    def for_package(cls, package: str, domain: str, lang: Any) -> Translator:
        code = known_lang(lang)
        return cls(code, translations(package, code, domain))

    def gettext(self, message: str, /, **values: Any) -> str:
        """``message`` translated, ``%(name)s`` filled from ``values`` (a value that is itself
        a message, :class:`privgate.errors.Text`, in this language too), particles chosen."""
        return self.finish(self.t.gettext(message) % self._values(values) if values
                           else self.t.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        """Singular or plural form for ``n`` (``%(num)s`` is ``n`` unless given)."""
        values.setdefault("num", n)
        return self.finish(self.t.ngettext(singular, plural, n) % self._values(values))

    def _values(self, values: dict[str, Any]) -> dict[str, Any]:
        from privgate.errors import PrivgateError, Text

        if self.lang == DEFAULT_LANG:
            return values
        return {k: v.render(self.t.gettext) if isinstance(v, Text | PrivgateError) else v
                for k, v in values.items()}

    def finish(self, text: str) -> str:
        """Korean particles resolved (the text is returned as it is in other languages)."""
        return resolve_particles(text) if self.lang == "ko" else text

    def message(self, value: Any) -> str:
        """A :class:`privgate.errors.Text` or a privgate error (its message, with every message
        inside it) in this language, particles chosen; anything else as ``str`` shows it."""
        from privgate.errors import PrivgateError, Text

        if self.lang == DEFAULT_LANG or not isinstance(value, Text | PrivgateError):
            return str(value)
        return self.finish(value.render(self.t.gettext))

    def plugin(self, text: str) -> str:
        """A text a plugin or core's checks wrote into a result (a reason, a warning, a
        baseline), translated by exact text or template through the loaded plugins' catalogs
        (:func:`plugin_catalog`, which the report uses too); as given when none has it."""
        found = None if self.lang == DEFAULT_LANG else plugin_catalog(self.lang).lookup(text)
        return text if found is None else self.finish(found)

    def num(self, value: int) -> str:
        """An integer with the locale's grouping (Babel): ``1,234``."""
        from babel.numbers import format_decimal

        return str(format_decimal(value, locale=self.lang))


# ------------------------------------------------------------------------ plugin catalogs


@dataclass
class TextCatalog:
    """Translations of plugin texts: exact English text, or a template with ``{name}``s."""

    exact: dict[str, str] = field(default_factory=dict)
    templates: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def add(self, english: str, translated: str) -> None:
        """One entry (an empty translation is ignored; the first entry for a text wins)."""
        if not translated or not english:
            return
        if _PLACEHOLDER.search(english):
            self.templates.append((re.compile(_template_regex(english), re.DOTALL),
                                   translated))
        else:
            self.exact.setdefault(english, translated)

    def update(self, other: TextCatalog) -> None:
        for english, text in other.exact.items():
            self.exact.setdefault(english, text)
        self.templates.extend(other.templates)

    def lookup(self, text: str, depth: int = 2) -> str | None:
        """The translation of ``text``, or ``None`` when no entry covers it. A value captured
        by a template that is itself a catalog text (a comparison's label such as "secret
        {secret}" inside a reason) is translated too, ``depth`` levels down."""
        if text in self.exact:
            return self.exact[text]
        for pattern, translated in self.templates:
            match = pattern.fullmatch(text)
            if match:
                return fill(translated, {k: (self.lookup(v, depth - 1) if depth > 0 else None)
                                         or v for k, v in match.groupdict().items()})
        return None


def _template_regex(english: str) -> str:
    """A regular expression matching ``english`` with each ``{name}`` a named group."""
    out, last, seen = [], 0, set()
    for m in _PLACEHOLDER.finditer(english):
        out.append(re.escape(english[last:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = m.end()
    out.append(re.escape(english[last:]))
    return "".join(out)


def fill(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each ``{name}`` that ``values`` holds replaced (other braces kept)."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values
                            else m.group(), text)


def catalog_from(declared: Any, lang: str, base: Path | None) -> TextCatalog:
    """A plugin's ``PRIVGATE_TRANSLATIONS`` for ``lang``: a mapping per language, a folder
    (relative to ``base``, the module's folder) of ``<lang>/LC_MESSAGES/*.po`` catalogs, or a
    ``(folder, domain)`` pair for the one catalog ``<lang>/LC_MESSAGES/<domain>.po``."""
    out = TextCatalog()
    if isinstance(declared, Mapping):
        entries = declared.get(lang)
        if isinstance(entries, Mapping):
            for english, text in entries.items():
                if isinstance(english, str) and isinstance(text, str):
                    out.add(english, text)
    elif isinstance(declared, str | Path | tuple) and base is not None:
        where, domain = (declared if isinstance(declared, tuple) and len(declared) == 2
                         else (declared, "*"))
        folder = base / str(where) / lang / "LC_MESSAGES"
        for po in sorted(folder.glob(f"{domain}.po")) if folder.is_dir() else []:
            with po.open("rb") as fh:
                for msg in read_po(fh, locale=lang):
                    if msg.id and isinstance(msg.id, str) and isinstance(msg.string, str) \
                            and not msg.fuzzy:
                        out.add(msg.id, msg.string)
    return out


def module_catalog(module: Any, lang: str) -> TextCatalog:
    """The translations ``module`` declares in :data:`TRANSLATIONS_ATTR` for ``lang``."""
    declared = getattr(module, TRANSLATIONS_ATTR, None)
    file = getattr(module, "__file__", None)
    return catalog_from(declared, lang, Path(file).parent if file else None)


def loaded_plugin_modules(group: str = "privgate") -> list[Any]:
    """The modules of the ``group`` entry points already imported in this process, by
    entry-point name (nothing is imported here)."""
    try:
        points = metadata.entry_points(group=group)
    except Exception:  # noqa: BLE001 -- broken metadata: no third-party catalogs
        return []
    modules = []
    for ep in sorted(points, key=lambda e: e.name):
        module = sys.modules.get(ep.value.split(":")[0].strip())
        if module is not None and module not in modules:
            modules.append(module)
    return modules


def plugin_catalog(lang: str, first: Iterable[Any] = ()) -> TextCatalog:
    """Every loaded plugin's translations for ``lang``; the modules in ``first`` (privgate's
    own catalog) take precedence over the others."""
    merged = TextCatalog()
    for module in [*first, *loaded_plugin_modules()]:
        merged.update(module_catalog(module, lang))
    return merged


# ------------------------------------------------------------------------ maintaining catalogs


def extract_messages(package: str, sources: Iterable[str]
                     ) -> dict[str | tuple[str, str], list[str]]:
    """Every msgid used by ``sources`` (paths inside ``package``: Python modules and Jinja
    templates), with where it is used. Plural messages are ``(singular, plural)`` tuples."""
    from babel.messages.extract import extract_from_file

    root = resources.files(package)
    found: dict[str | tuple[str, str], list[str]] = {}
    for rel in sources:
        method = "jinja2.ext:babel_extract" if rel.endswith(".j2") else "python"
        options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                   "lstrip_blocks": "true"} if method != "python" else {}
        for lineno, message, _comments, _ctx in extract_from_file(
                method, str(root.joinpath(rel)), keywords=KEYWORDS, options=options):
            key: str | tuple[str, str] = message if isinstance(message, str) else (
                str(message[0]), str(message[1]))
            if key:
                found.setdefault(key, []).append(f"{rel}:{lineno}")
    return found


def extract_marked(packages: Iterable[str], keywords: Mapping[str, Any] | None = None
                   ) -> dict[str | tuple[str, str], list[str]]:
    """Every msgid marked with ``keywords`` (default: :func:`privgate.errors.N_` only) in
    every Python module of ``packages``, their subfolders included: the error messages
    (:class:`privgate.errors.Text`) that may come from anywhere in privgate."""
    from babel.messages.extract import extract_from_file

    found: dict[str | tuple[str, str], list[str]] = {}
    for package in packages:
        root = Path(str(resources.files(package)))
        prefix = "" if "." not in package else package.rsplit(".", 1)[1] + "/"
        for file in sorted(root.rglob("*.py")):
            rel = prefix + file.relative_to(root).as_posix()
            for lineno, message, _comments, _ctx in extract_from_file(
                    "python", str(file), keywords=dict(keywords or {"N_": None})):
                key: str | tuple[str, str] = message if isinstance(message, str) else (
                    str(message[0]), str(message[1]))
                where = f"{rel}:{lineno}"
                if key and where not in found.get(key, []):
                    found.setdefault(key, []).append(where)
    return found


def write_catalog(target: str, lang: str, domain: str,
                  messages: Mapping[str | tuple[str, str], list[str]],
                  have: Callable[[str | tuple[str, str]], Any]) -> list[str | tuple[str, str]]:
    """Write a ``.po`` of ``messages`` (msgid -> where used) with the translations ``have``
    returns; returns the msgids left untranslated."""
    from datetime import UTC, datetime

    from babel import Locale
    from babel.messages.pofile import write_po

    catalog = Catalog(locale=lang, domain=domain, project="privgate",
                      version=metadata.version("privgate"),
                      copyright_holder="privgate contributors",
                      msgid_bugs_address="privgate contributors",
                      last_translator="privgate contributors",
                      language_team="privgate contributors",
                      revision_date=datetime.now(UTC), fuzzy=False,
                      header_comment=(f"# {Locale.parse(lang).english_name} messages of "
                                      f"privgate ({domain}).\n# Source language: English (the "
                                      "msgids). Update with privgate.i18n.update_catalog()."))
    missing: list[str | tuple[str, str]] = []
    for msgid, where in messages.items():
        text = have(msgid)
        if not text or (isinstance(text, tuple | list) and not all(text)):
            missing.append(msgid)
            text = ("", "") if isinstance(msgid, tuple) else ""
        locations = [(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where]
        flags = ("python-format",) if "%(" in str(msgid) else ()
        catalog.add(msgid, tuple(text) if isinstance(msgid, tuple) else text,
                    locations=locations, flags=flags)
    with open(target, "wb") as fh:
        write_po(fh, catalog, width=100, sort_output=False)
    return missing


def update_catalog(package: str, lang: str, domain: str, sources: Iterable[str],
                   path: str | None = None, marked: Iterable[str] = ()
                   ) -> list[str | tuple[str, str]]:
    """Rewrite ``lang``'s ``.po`` from the messages ``sources`` use (and those marked with
    ``N_`` anywhere in the packages ``marked``: :func:`extract_marked`), keeping existing
    translations; new messages get an empty translation for a translator to fill in (the
    tests fail until they are). Returns the untranslated msgids."""
    old = {m.id: m.string for m in read_catalog(package, lang, domain) if m.id}
    messages = extract_messages(package, sources)
    for msgid, where in extract_marked(marked).items() if marked else ():
        messages.setdefault(msgid, []).extend(w for w in where if w not in messages[msgid])
    return write_catalog(path or str(po_path(package, lang, domain)), lang, domain,
                         messages, old.get)


__all__ = ["DEFAULT_LANG", "LANGS", "TRANSLATIONS_ATTR", "TextCatalog", "Translator",
           "catalog_from", "extract_marked", "extract_messages", "fill", "known_lang",
           "module_catalog", "plugin_catalog", "po_path", "read_catalog", "translations",
           "update_catalog"]
