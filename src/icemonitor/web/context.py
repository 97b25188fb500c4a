"""Per-request helpers shared by pages, API and downloads: filters, definitions, provenance."""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Any

from icemonitor.analysis.holdings import catalog_releases
from icemonitor.messages import msg
from icemonitor.query.filters import CRIMINALITY, METHOD_CLASSES, Filters, ParamError
from icemonitor.web import analyses, i18n
from icemonitor.web.db import Warehouse


def parse_date(name: str, value: str | None) -> dt.date | None:
    """An ISO date (YYYY-MM-DD) or a month (YYYY-MM, meaning its first day); blank means no filter."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    try:
        if len(text) == 7:
            return dt.date.fromisoformat(text + "-01")
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParamError(name, msg("expected a date YYYY-MM-DD"), value) from None


def filters_from_query(q: dict[str, str], default_table: str = "arrests") -> Filters:
    """Filters from form/query strings (blank fields mean 'all')."""
    aor = (q.get("aor") or "").strip().upper() or None
    if aor is not None and not (aor.isalpha() and 2 <= len(aor) <= 3):
        raise ParamError("aor", msg("expected an AOR code such as LOS"), aor)
    mc = (q.get("method_class") or "").strip() or None
    if mc is not None and mc not in METHOD_CLASSES:
        raise ParamError("method_class", msg("allowed: {choices}", choices=", ".join(METHOD_CLASSES)), mc)
    table = (q.get("table") or "").strip() or default_table
    crim = (q.get("criminality") or "").strip() or None
    if crim is not None and crim not in CRIMINALITY:
        raise ParamError("criminality", msg("allowed: {choices}", choices=", ".join(CRIMINALITY)), crim)
    release = (q.get("release") or "").strip() or None
    if release is not None and not all(c.isalnum() or c in "._-" for c in release):
        raise ParamError("release", msg("expected a release id"), release)
    return Filters(table, parse_date("from", q.get("from")), parse_date("to", q.get("to")), aor, mc, crim, release)


def definitions(wh: Warehouse, f: Filters, lang: str) -> dict[str, str]:
    """The definitions a figure over these filters rests on, in words, with the codes the warehouse uses."""
    t = lambda k, **kw: i18n.translate(lang, k, **kw)  # noqa: E731
    out = {"counted": t("def.counted"), "period": t("def.period")}
    codes = analyses.method_codes(wh, f.table)
    if codes:
        out["method_class"] = t(
            "def.method_class",
            custodial="; ".join(codes.get("custodial", [])) or "–",
            at_large="; ".join(codes.get("at_large", [])) or "–",
            other="; ".join(codes.get("other", [])) or "–",
        )
    return out


def warehouse_info(wh: Warehouse) -> dict[str, str | None]:
    mtime = wh.mtime
    modified = dt.datetime.fromtimestamp(mtime, dt.timezone.utc).isoformat(timespec="seconds") if mtime else None
    return {"file": wh.path.name, "modified": modified}


def release_details(wh: Warehouse, ids: list[str], table: str | None = None) -> list[dict[str, Any]]:
    """Rows of the releases table for these release ids (one per id, files joined; only `table`'s files)."""
    known = catalog_releases()
    by_id: dict[str, dict[str, Any]] = {
        i: {"release_id": i, "title": known.get(i, {}).get("title"),
            "foia_request": known.get(i, {}).get("foia_request"), "files": []} for i in ids}
    for r in analyses.loaded_releases(wh):
        rid = r.get("release_id")
        if rid in by_id and (table is None or r.get("table_name") in (None, table)):
            entry = by_id[rid]
            name = r.get("file_name")
            if name and name not in entry["files"]:
                entry["files"].append(name)
    for entry in by_id.values():
        entry["files"].sort()
    return list(by_id.values())


def provenance(wh: Warehouse, f: Filters, by: list[str], level: str, release_ids: list[str],
               lang: str = "en") -> dict[str, Any]:
    """What a download contains and where it came from."""
    return {
        "generated_by": "icemonitor",
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "warehouse": warehouse_info(wh),
        "table": f.table,
        "level": level,
        "group_by": by,
        "filters": f.as_params(),
        "releases": release_details(wh, release_ids, f.table),
        "definitions": definitions(wh, f, lang),
    }


@lru_cache(maxsize=1)
def aor_names() -> dict[str, str]:
    """AOR code -> field office name (web/data/aor_names.csv)."""
    text = resources.files("icemonitor.web").joinpath("data/aor_names.csv").read_text(encoding="utf-8")
    return {r["aor"]: r["name"] for r in csv.DictReader(text.splitlines())}
