"""Every text a report shows that a plugin supplied, so that the catalogs can be checked.

The report translates these through the plugin catalogs (:meth:`privgate.reports.i18n.Lang
.plugin`); :func:`registry_texts` lists the fixed texts of registered plugins (class
attributes, policies) and :func:`result_texts` the texts an audit's result document carries
(interval methods, baselines, figure captions and headers, check messages and warnings). The
test suite holds both against ``reports/locale/ko/LC_MESSAGES/privgate-plugins.po`` so that a
plugin author who changes a text is told which translation to add.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from privgate.figures import from_plain, map_block
from privgate.plain import PlainError
from privgate.reports.common import as_list, as_map, as_text


def _strings(value: Any) -> Iterator[str]:
    text = as_text(value).strip()
    if text:
        yield text


def registry_texts(registry: Any, builtin_only: bool = True) -> dict[str, str]:
    """Text -> where it comes from, for every registered attack, metric, generator and policy
    (only privgate's own with ``builtin_only``)."""
    out: dict[str, str] = {}
    for kind, fields in (("attacks", ("description", "explanation")),
                         ("metrics", ("title", "description", "assumptions")),
                         ("generators", ("description",))):
        for name, item in getattr(registry, kind).items():
            if builtin_only and not item.builtin:
                continue
            for field in fields:
                for text in _strings(getattr(item.obj, field, "")):
                    out.setdefault(text, f"{kind[:-1]} {name}: {field}")
    for name, item in registry.policies.items():
        if builtin_only and not item.builtin:
            continue
        for field in ("title", "description"):
            for text in _strings(getattr(item.obj, field, "")):
                out.setdefault(text, f"policy {name}: {field}")
    return out


def _figure_texts(raw: Any, where: str, out: dict[str, str]) -> None:
    for i, item in enumerate(as_list(raw)):
        try:
            block = from_plain(item, f"figure {i + 1}")
        except PlainError:
            continue
        found: list[str] = []

        def keep(value: Any, found: list[str] = found) -> Any:
            if isinstance(value, str):
                found.append(value)
            return value

        map_block(block, keep, keep)
        for text in found:
            for s in _strings(text):
                out.setdefault(s, f"{where}: figure")


def result_texts(result: Mapping[str, Any]) -> dict[str, str]:
    """Text -> where it is, for the plugin-supplied texts of a result document that a report
    shows translated (names of plugins, columns and files are not texts)."""
    out: dict[str, str] = {}
    for gen in map(as_map, as_list(result.get("generators"))):
        gname = as_text(gen.get("name"))
        for att in map(as_map, as_list(gen.get("attacks"))):
            where = f"{gname}/{as_text(att.get('attack'))}"
            for key in ("interval_method", "baseline_description"):
                for s in _strings(att.get(key)):
                    out.setdefault(s, f"{where}: {key}")
            _figure_texts(att.get("figures"), where, out)
        for met in map(as_map, as_list(gen.get("metrics"))):
            where = f"{gname}/{as_text(met.get('metric'))}"
            for s in _strings(met.get("description")):
                out.setdefault(s, f"{where}: description")
            _figure_texts(met.get("figures"), where, out)
    for check in map(as_map, as_list(result.get("checks"))):
        if check.get("ci_high") is None:  # no numbers: the report shows core's message
            for s in _strings(check.get("message")):
                out.setdefault(s, "check message")
        for warning in as_list(check.get("warnings")):
            for s in _strings(warning):
                out.setdefault(s, "check warning")
    return out


__all__ = ["registry_texts", "result_texts"]
