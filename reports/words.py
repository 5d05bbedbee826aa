"""Words that fit the audited data: the audited table's own column names in plugin texts, and
risks said in plain terms ("about 1 in 11 people").

**Column placeholders.** Plugin texts (attack explanations, policy and metric texts) are
written once for every table. Rather than examples from some other data set, a text (or its
translation in a plugin catalog, see :mod:`privgate.i18n`) may name the audited columns
through these placeholders, which the report fills from the result document's schema:

* ``{quasi_identifiers}``: the columns the attacker is assumed to know (role
  ``quasi-identifier``; "every other column" when none is declared);
* ``{sensitive}``: the columns the attacker wants to learn (roles ``sensitive`` and
  ``target``; "each column in turn" when none is declared);
* ``{columns}``: the audited columns;
* ``{table}``: the data set's name.

Beside each attack family the report also says, in its own words, which of the audited columns
play which part (:func:`on_this_table`), so a reader sees the table's own names even when a
plugin's text is generic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from babel.lists import format_list

from privgate.i18n import fill
from privgate.reports.common import as_list, as_map, as_number, as_text
from privgate.reports.i18n import Lang

#: Most column names listed in one placeholder (the rest are counted).
MAX_NAMES = 6


def names(items: list[str], lang: Lang) -> str:
    """A list of names for the locale ('a, b and c'), at most :data:`MAX_NAMES` of them."""
    if len(items) > MAX_NAMES:
        shown = items[:MAX_NAMES]
        return lang.gettext("%(names)s and %(n)s more", names=", ".join(shown),
                            n=lang.count(len(items) - MAX_NAMES))
    return format_list(items, locale=lang.code) if items else ""


def _roles(result: Mapping[str, Any], roles: tuple[str, ...]) -> list[str]:
    cols = [as_map(c) for c in as_list(as_map(result.get("schema")).get("columns"))]
    return [as_text(c.get("name")) for c in cols if as_text(c.get("role")) in roles]


def column_values(result: Mapping[str, Any], lang: Lang) -> dict[str, str]:
    """The values of the column placeholders for ``result``'s table."""
    qis = _roles(result, ("quasi-identifier",))
    secret = _roles(result, ("sensitive", "target"))
    dataset = as_map(result.get("dataset"))
    cols = [as_text(c) for c in as_list(dataset.get("columns"))]
    return {
        "quasi_identifiers": names(qis, lang) or lang.gettext("every other column"),
        "sensitive": names(secret, lang) or lang.gettext("each column in turn"),
        "columns": names(cols, lang) or lang.gettext("the audited columns"),
        "table": as_text(dataset.get("name"), lang.gettext("the audited table")),
    }


def plugin_text(text: Any, lang: Lang, values: Mapping[str, str]) -> str:
    """A plugin's text, translated through the plugin catalogs, placeholders filled."""
    return lang.finish(fill(lang.plugin(text), values)) if text else ""


def on_this_table(kind: str, lang: Lang, values: Mapping[str, str]) -> str:
    """Which audited columns play which part in an attack family, in the report's words."""
    if kind in ("inference", "identity-disclosure", "linkability", "singling-out",
                "verbatim-copy"):
        return lang.gettext(
            "On this table, the attacker is assumed to know %(qi)s and to want to learn "
            "%(secret)s.", qi=values["quasi_identifiers"], secret=values["sensitive"])
    if kind in ("membership", "membership-low-fpr", "distinguishability"):
        return lang.gettext("On this table, the attacker holds whole records: %(cols)s.",
                            cols=values["columns"])
    return ""


def one_in(share: Any, lang: Lang) -> str:
    """A proportion in plain words: 'about 1 in 11', 'about 4 in 10', 'none'."""
    x = as_number(share)
    if x is None:
        return lang.gettext("an unknown share")
    if x <= 0:
        return lang.gettext("none")
    if x >= 0.5:
        return lang.gettext("about %(k)s in 10", k=lang.count(min(10, round(x * 10))))
    n = 1 / x
    rounded = round(n) if n < 100 else round(n, 1 - int(math.floor(math.log10(n))))
    return lang.gettext("about 1 in %(n)s", n=lang.count(max(2, rounded)))


#: Per risk kind: a plain sentence about the risk's upper bound (``%(share)s`` is 'about 1 in
#: 11'). Kinds not listed use the generic sentence of :func:`finding`.
def _kind_sentence(kind: str, lang: Lang, share: str, values: Mapping[str, str]) -> str:
    if kind == "membership":
        return lang.gettext("An attacker could tell whether a person's record was used for "
                            "training, beyond guessing, for up to %(share)s people.", share=share)
    if kind == "singling-out":
        return lang.gettext("Up to %(share)s attempts to describe exactly one real person "
                            "from the synthetic data could hit a real training record beyond "
                            "chance.", share=share)
    if kind == "linkability":
        return lang.gettext("Up to %(share)s people's records held in two separate places "
                            "could be joined through the synthetic data.", share=share)
    if kind == "inference":
        return lang.gettext("Knowing %(qi)s, an attacker could guess %(secret)s correctly, "
                            "beyond what anyone could, for up to %(share)s people.",
                            qi=values["quasi_identifiers"], secret=values["sensitive"],
                            share=share)
    if kind == "identity-disclosure":
        return lang.gettext("Up to %(share)s real people could be matched to their synthetic "
                            "records and so recognised.", share=share)
    if kind == "verbatim-copy":
        return lang.gettext("Up to %(share)s unique training records could appear word for "
                            "word in the synthetic data, beyond chance.", share=share)
    if kind == "membership-low-fpr":
        return lang.gettext("Allowed almost no false alarms, an attacker could still flag up "
                            "to %(share)s training members beyond chance.", share=share)
    if kind == "distinguishability":
        return lang.gettext("A classifier tells synthetic rows from real ones with a score of "
                            "up to %(share)s (0: cannot tell them apart).", share=share)
    return ""


def finding(check: Mapping[str, Any], lang: Lang, values: Mapping[str, str]) -> str:
    """One check's upper bound in plain words, then how it stands against the threshold."""
    kind = as_text(check.get("risk_kind"))
    high, thr = check.get("ci_high", check.get("upper_bound")), check.get("threshold")
    if as_number(high) is None:
        return ""
    share = (lang.num(high) if kind == "distinguishability" else one_in(high, lang))
    text = _kind_sentence(kind, lang, share, values) or lang.gettext(
        "The risk could be as high as %(high)s.", high=lang.num(high))
    return text + " " + lang.gettext(
        "(Upper %(level)s bound %(high)s; the policy allows at most %(thr)s, %(thr_share)s.)",
        level=lang.level(check.get("confidence_level")), high=lang.num(high),
        thr=lang.num(thr), thr_share=one_in(thr, lang))


__all__ = ["column_values", "finding", "names", "on_this_table", "one_in", "plugin_text"]
