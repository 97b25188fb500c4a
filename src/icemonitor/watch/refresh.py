"""`icemonitor refresh`: fetch what is new, rebuild, record what changed, hold back disagreeing versions, alert.

The previous warehouse stays in use until the new one is complete; each release file version used is kept under
<home>/versions/<release>/<sha256>/ so that, when a new version disagrees with it beyond the thresholds, the
old version can be rebuilt and kept in use while the new one is written to exclusions.csv as suspect.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from icemonitor import config
from icemonitor.errors import IcemonitorError, error_message
from icemonitor.messages import Message, msg, to_json
from icemonitor.warehouse.build import BuildSource
from icemonitor.watch import exclusions, snapshot, state
from icemonitor.watch.lock import RefreshLock
from icemonitor.watch.snapshot import CellChange, Thresholds

log = logging.getLogger(__name__)

Fetch = Callable[[Path, Path | None], list[str] | None]
ListSources = Callable[[Path], list[BuildSource]]
Build = Callable[..., object]


@dataclass
class RefreshResult:
    refresh_id: int
    status: str  # updated / unchanged / held_back
    added: list[tuple[str, str]] = field(default_factory=list)  # (release_id, file_name) loaded for the first time
    changed: list[tuple[str, str]] = field(default_factory=list)  # new versions taken into use
    removed: list[tuple[str, str]] = field(default_factory=list)  # files no longer in the catalog
    fetch_errors: list[str] = field(default_factory=list)  # files that could not be fetched (left out)
    suspect: list[exclusions.Exclusion] = field(default_factory=list)
    changes: list[CellChange] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)  # ids of new findings
    messages: list[str] = field(default_factory=list)


class RemovalRefused(IcemonitorError):
    """The new warehouse would lack files the one in use has; it is not swapped in unless removal is allowed."""


@dataclass(frozen=True)
class LoadedFile:
    """A file as the warehouse's `releases` table records it."""

    rows: int
    sha256: str
    bytes: int
    reader: str


def warehouse_files(target: Path) -> dict[tuple[str, str], LoadedFile]:
    """(release_id, file_name) -> what was loaded, for every file in the warehouse at `target` (empty without one)."""
    import duckdb

    if not target.exists():
        return {}
    con = duckdb.connect(str(target), read_only=True)
    try:
        rows = con.execute("SELECT release_id, file_name, sum(rows_loaded), any_value(sha256), any_value(bytes), "
                           "any_value(reader) FROM releases GROUP BY release_id, file_name").fetchall()
    except duckdb.CatalogException:  # no releases table: not a warehouse this code built
        return {}
    finally:
        con.close()
    return {(r, f): LoadedFile(int(n or 0), sha, int(size or 0), reader) for r, f, n, sha, size, reader in rows}


def archived_version(home: Path, key: tuple[str, str], loaded: LoadedFile) -> BuildSource | None:
    """The version a warehouse holds, from the raw archive, as a build source (None when the archive lacks it or
    the catalog no longer lists the file)."""
    from icemonitor.catalog import archive
    from icemonitor.catalog.catalog import load_catalog

    entry = archive.find(key[0], key[1], loaded.sha256, loaded.bytes, home=home)
    if entry is None:
        return None
    try:
        f = load_catalog().release(key[0]).file(key[1])
    except IcemonitorError:
        return None
    return BuildSource(key[0], key[1], entry.path, loaded.reader, loaded.sha256, dict(f.options or {}))


def refuse_removal(lost: dict[tuple[str, str], LoadedFile], fetch_errors: list[str]) -> None:
    """RemovalRefused naming the files (and their rows) the new warehouse would lack."""
    names = "; ".join(f"{r}/{f} ({n.rows:,} rows)" for (r, f), n in sorted(lost.items()))
    why = (" Some files could not be fetched: " + "; ".join(fetch_errors)) if fetch_errors else ""
    raise RemovalRefused(
        f"the new warehouse would lack {len(lost)} file(s) the one in use has: {names}. The warehouse in use is "
        f"kept.{why} Fetch the missing files (or pass --mirror), or run `icemonitor refresh --allow-removal` "
        "if they are meant to go.")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def catalog_fetch(home: Path, mirror: Path | None) -> list[Message | str]:
    """Fetch every catalog release not yet archived with the catalog's checksum (a changed checksum in the
    catalog means a new version: it is archived beside the old copy). Returns the files that failed, as messages (said in any language)."""
    from icemonitor.catalog.fetch import fetch

    try:
        fetch(None, home=home, mirror=mirror)
    except IcemonitorError as err:
        return [error_message(e) for e in getattr(err, "errors", [err])]  # messages: kept, said in any language
    return []


def with_discovery(page_url: str, fetch: Fetch = catalog_fetch) -> Fetch:
    """`fetch`, then a look at ICE's Detention Management page: every posting not archived yet is archived (each
    version kept) for the build to read; links that fail are reported like files that could not be fetched."""

    def run(home: Path, mirror: Path | None) -> list[str]:
        from icemonitor.catalog.detention_discovery import discover

        errors = list(fetch(home, mirror) or [])
        found = discover(page_url, home=home)
        for e in found.new:
            log.info("new detention posting archived: %s (%s)", e.name, e.sha256[:12])
        return errors + [msg("detention posting {url}: {why}", url=url, why=why) for url, why in found.rejected]

    return run


def catalog_list(home: Path) -> list[BuildSource]:
    """Build sources for every event and aggregate release file archived with the catalog's checksum (unfetched
    ones are left out here; catalog_fetch has reported them), and every detention posting discovered on ICE's
    page and archived (catalog/detention_discovery.py)."""
    from icemonitor.catalog import pins
    from icemonitor.catalog.catalog import load_catalog
    from icemonitor.warehouse.detention_step import discovered_sources

    out = []
    catalog = load_catalog()
    for release in catalog.event_releases() + catalog.aggregate_releases():
        for f in release.files:
            entry = pins.find_archived(release, f, home)
            if f.reader and entry is not None:
                out.append(BuildSource(release.id, f.name, entry.path, f.reader, entry.sha256, dict(f.options or {})))
    return out + discovered_sources(home=home)


def plain_build(sources: Sequence[BuildSource], target: Path, progress=None) -> object:
    """The event tables, and the detention tables when aggregate sources are given (no places tables)."""
    from icemonitor.warehouse.build import build
    from icemonitor.warehouse.detention_step import detention_stage, split_sources

    events, aggregates = split_sources(sources)
    return build(events, target, progress=progress, extra_tables=detention_stage(aggregates) if aggregates else None)


def catalog_build(home: Path) -> Build:
    """Build as `icemonitor build` does: event tables, the places tables from the archived reference files,
    and the parse cache under the data folder."""

    def run(sources: Sequence[BuildSource], target: Path, progress=None) -> object:
        from icemonitor.catalog.fetch import reference_resolver
        from icemonitor.warehouse.build import build
        from icemonitor.places.build_step import place_stage
        from icemonitor.places.detention_facilities import facility_tables, gazetteer
        from icemonitor.places.facility_signal import write_facility_signal
        from icemonitor.warehouse.detention_step import detention_stage, split_sources

        ref = reference_resolver(home)
        events, aggregates = split_sources(sources)
        places = place_stage(ref)
        detention = detention_stage(aggregates, facilities=lambda con: facility_tables(con, ref)) if aggregates else None

        def extra(con) -> None:  # noqa: ANN001 - duckdb connection
            places(con)
            if detention is not None:
                detention(con)
                write_facility_signal(con, gazetteer(ref))  # again, with the facilities the detention stage placed

        from icemonitor.analysis.sweeps_stored import sweeps_stage

        return build(events, target, progress=progress, extra_tables=extra, answer_tables=sweeps_stage(ref),
                     cache_dir=config.cache_dir(home))

    return run


def kept_path(home: Path, release_id: str, sha: str, name: str) -> Path:
    return home / "versions" / release_id / sha / name


def refresh(
    home: Path | None = None,
    *,
    mirror: Path | None = None,
    fetch: Fetch = catalog_fetch,
    list_sources: ListSources = catalog_list,
    build: Build | None = None,
    thresholds: Thresholds = Thresholds(),
    run_watches: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    allow_removal: bool = False,
) -> RefreshResult:
    """One refresh under the lock. Raises LockHeld when another refresh runs, and RemovalRefused (keeping the
    warehouse in use) when the new one would lack a file the one in use has, unless `allow_removal`."""
    home = Path(home or config.home())
    build = build or catalog_build(home)
    with RefreshLock(home):
        con = state.connect(home)
        refresh_id = con.execute(
            "INSERT INTO refreshes (started_at, status) VALUES (?, 'running')", [state.iso(state.now_utc())]
        ).lastrowid
        try:
            build_fn = (lambda s, t: build(s, t, progress=progress)) if progress else build
            result = _refresh(con, home, refresh_id, mirror, fetch, list_sources, build_fn, thresholds, allow_removal)
            if not result.changes:
                con.execute("UPDATE refreshes SET watches_done = 1 WHERE id = ?", [refresh_id])
            if run_watches:
                from icemonitor.watch.alerts import evaluate_pending

                result.findings, problems = evaluate_pending(con, config.warehouse_path(home))
                result.messages.extend(problems)
                result.findings += _detention_watches(con, config.warehouse_path(home), refresh_id, result)
            con.execute(
                "UPDATE refreshes SET finished_at = ?, status = ?, message = ?, messages = ? WHERE id = ?",
                [state.iso(state.now_utc()), result.status, "\n".join(result.messages), to_json(result.messages),
                 refresh_id],
            )
            return result
        except BaseException as err:
            con.execute(
                "UPDATE refreshes SET finished_at = ?, status = 'failed', message = ? WHERE id = ?",
                [state.iso(state.now_utc()), f"{type(err).__name__}: {err}", refresh_id],
            )
            raise
        finally:
            con.close()


def _detention_watches(con: sqlite3.Connection, warehouse: Path, refresh_id: int, result: RefreshResult) -> list[int]:
    """Detention watches run after every refresh (a posting gone stale is found when nothing new came)."""
    from icemonitor.watch.detention_watches import evaluate_detention

    try:
        return evaluate_detention(con, warehouse, refresh_id)
    except Exception as err:  # noqa: BLE001 - reported; the refresh itself is done
        result.messages.append(msg("detention watches not run (will run at the next refresh): {kind}: {err}",
                                   kind=type(err).__name__, err=str(err)))
        return []


def _in_use(con: sqlite3.Connection) -> dict[tuple[str, str], sqlite3.Row]:
    return {(r["release_id"], r["file_name"]): r for r in con.execute("SELECT * FROM release_files WHERE status = 'in_use'")}


def _refresh(con, home, refresh_id, mirror, fetch, list_sources, build, thresholds, allow_removal=False) -> RefreshResult:
    result = RefreshResult(refresh_id, "unchanged")
    result.fetch_errors = list(fetch(home, mirror) or [])
    for err in result.fetch_errors:
        result.messages.append(msg("not fetched (the version in use, if any, stays): {err}", err=err))
    sources = list_sources(home)
    in_use = _in_use(con)
    excluded = exclusions.load(home)
    target = config.warehouse_path(home)

    chosen: list[BuildSource] = []
    shas: dict[tuple[str, str], str] = {}
    accepted_unchecked: set[str] = set()
    for src in sources:
        key = (src.release_id, src.name)
        sha = sha256_of(src.path)
        ex = excluded.get((src.release_id, src.name, sha))
        if ex is not None and ex.decision == "suspect":
            old = in_use.get(key)
            if old is None:
                result.messages.append(msg("{release}/{file}: version {sha} is excluded as suspect; not loaded",
                                           release=src.release_id, file=src.name, sha=sha[:12]))
                continue
            chosen.append(replace(src, path=Path(old["kept_path"]), sha256=old["sha256"]))
            shas[key] = old["sha256"]
            result.messages.append(msg("{release}/{file}: version {sha} is excluded as suspect; keeping {kept}",
                                       release=src.release_id, file=src.name, sha=sha[:12], kept=old["sha256"][:12]))
            continue
        if ex is not None and ex.decision == "accepted":
            accepted_unchecked.add(src.release_id)
        chosen.append(src)
        shas[key] = sha
        if key not in in_use:
            result.added.append(key)
        elif in_use[key]["sha256"] != sha:
            result.changed.append(key)
    for key in sorted(set(in_use) - set(shas)):
        old = in_use[key]
        if result.fetch_errors and old["kept_path"] and Path(old["kept_path"]).exists():
            # not listed because its new version could not be fetched: keep the version in use
            chosen.append(BuildSource(key[0], key[1], Path(old["kept_path"]), old["reader"], old["sha256"],
                                      json.loads(old["options"] or "{}")))
            shas[key] = old["sha256"]
            result.messages.append(msg("{release}/{file}: kept the version in use ({kept})", release=key[0],
                                       file=key[1], kept=old["sha256"][:12]))
        else:
            result.removed.append(key)
    lost = {k: n for k, n in warehouse_files(target).items() if k not in shas}
    for key, loaded in list(lost.items()) if result.fetch_errors else []:
        kept = archived_version(home, key, loaded)  # e.g. the first refresh after `build`: no state yet
        if kept is not None:
            chosen.append(kept)
            shas[key] = loaded.sha256
            del lost[key]
            result.messages.append(msg("{release}/{file}: kept the version in the warehouse ({kept})",
                                       release=key[0], file=key[1], kept=loaded.sha256[:12]))
    if lost and not allow_removal:
        refuse_removal(lost, result.fetch_errors)

    if not (result.added or result.changed or result.removed) and target.exists():
        result.messages.append(msg("nothing new: the warehouse is up to date"))
        return result

    before = snapshot.load(con)
    if not before and target.exists():
        before = snapshot.take(target)  # first refresh over a warehouse built by `icemonitor build`
    candidate = target.with_name(f".{target.name}.candidate")
    candidate.unlink(missing_ok=True)
    try:
        build(chosen, candidate)
        after = snapshot.take(candidate)
        changed_releases = sorted({rid for rid, _ in result.changed} - accepted_unchecked)
        suspects = {
            rid: bad for rid in changed_releases if (bad := snapshot.disagreements(rid, before, after, thresholds))
        }
        if suspects:
            chosen = _hold_back(con, home, refresh_id, suspects, chosen, shas, in_use, result, thresholds)
            candidate.unlink(missing_ok=True)
            if not (result.added or result.changed or result.removed):
                result.status = "held_back"
                return result
            build(chosen, candidate)
            after = snapshot.take(candidate)
        result.changes = snapshot.diff(before, after)
        kept = _keep_copies(home, chosen, shas)
        # the state is written in a transaction committed only once the new warehouse is in place: a crash in
        # between leaves the old state, and the next refresh sees the same changes again and redoes them
        _record(con, refresh_id, result, after, chosen, shas, kept, swap=lambda: os.replace(candidate, target))
    finally:
        candidate.unlink(missing_ok=True)
    result.status = "held_back" if result.suspect else "updated"
    added = sum(c.added for c in result.changes)
    removed = sum(c.removed for c in result.changes)
    result.messages.append(msg(
        "warehouse rebuilt: {added} file(s) added, {changed} new version(s), {removed} removed; {rows_added:,} rows "
        "added and {rows_removed:,} removed across {cells} table/release/month/AOR cells", added=len(result.added),
        changed=len(result.changed), removed=len(result.removed), rows_added=added, rows_removed=removed,
        cells=len(result.changes)))
    return result


def _hold_back(con, home, refresh_id, suspects, chosen, shas, in_use, result, thresholds) -> list[BuildSource]:
    """Swap each suspect release's new files for the kept old versions and write the exclusions."""
    rows = []
    out = []
    for src in chosen:
        key = (src.release_id, src.name)
        if src.release_id in suspects and key in result.changed:
            old = in_use[key]
            bad = suspects[src.release_id]
            worst = max(bad, key=lambda c: abs(c.rows_after - c.rows_before) / max(c.rows_before, 1))
            reason = msg(
                "{n} month x AOR cell(s) with >= {min_rows} rows changed by more than {max_change:.0%}; largest: "
                "{table} {month} {aor} {before} -> {after} rows", n=len(bad), min_rows=thresholds.min_rows,
                max_change=thresholds.max_change, table=worst.table, month=worst.month,
                aor=worst.aor or msg("(no AOR)"), before=worst.rows_before, after=worst.rows_after)
            new_sha = shas[key]
            rows.append(exclusions.Exclusion(src.release_id, src.name, new_sha, "suspect", reason,
                                             exclusions.today(), str(refresh_id)))
            con.execute(
                "INSERT OR IGNORE INTO release_files (release_id, file_name, sha256, kept_path, status, first_refresh, "
                "last_refresh) VALUES (?,?,?,NULL,'suspect',?,?)",
                [src.release_id, src.name, new_sha, refresh_id, refresh_id],
            )
            out.append(replace(src, path=Path(old["kept_path"]), sha256=old["sha256"]))
            shas[key] = old["sha256"]
            result.changed.remove(key)
            result.messages.append(msg(
                "{release}/{file}: new version {sha} disagrees with the one in use ({reason}); kept {kept} and "
                "recorded the new one as suspect", release=src.release_id, file=src.name, sha=new_sha[:12],
                reason=reason, kept=old["sha256"][:12]))
        else:
            out.append(src)
    exclusions.record(rows, home)
    result.suspect.extend(rows)
    return out


def _keep_copies(home: Path, chosen: list[BuildSource], shas: dict[tuple[str, str], str]) -> dict[tuple[str, str], Path]:
    """Where each file version in use is kept: its raw-archive copy (read-only, never overwritten) when it
    comes from there, else a copy under <home>/versions/."""
    raw = (home / "raw").resolve()
    kept = {}
    for src in chosen:
        key = (src.release_id, src.name)
        path = Path(src.path).resolve()
        if raw in path.parents or (home / "versions").resolve() in path.parents:
            kept[key] = path
            continue
        dest = kept_path(home, src.release_id, shas[key], src.name)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copyfile(src.path, tmp)
            os.replace(tmp, dest)
        kept[key] = dest
    return kept


def _record(con, refresh_id, result, after, chosen, shas, kept, swap: Callable[[], None]) -> None:
    """Store the diff, the new snapshot and the release history in one transaction; `swap` puts the new
    warehouse in place just before the commit."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.executemany(
            "INSERT INTO release_diff VALUES (?,?,?,?,?,?,?,?,?)",
            [(refresh_id, c.table, c.release_id, c.month, c.aor, c.rows_before, c.rows_after,
              c.counted_before, c.counted_after) for c in result.changes],
        )
        snapshot.save(con, after)
        con.execute("UPDATE release_files SET status = 'superseded' WHERE status = 'in_use'")
        for src in chosen:
            key = (src.release_id, src.name)
            con.execute(
                "INSERT INTO release_files (release_id, file_name, sha256, kept_path, reader, options, status, "
                "first_refresh, last_refresh) VALUES (?,?,?,?,?,?,'in_use',?,?) "
                "ON CONFLICT (release_id, file_name, sha256) DO UPDATE SET status = 'in_use', "
                "kept_path = excluded.kept_path, reader = excluded.reader, options = excluded.options, "
                "last_refresh = excluded.last_refresh",
                [src.release_id, src.name, shas[key], str(kept[key]), src.reader,
                 json.dumps(dict(src.options or {}), sort_keys=True), refresh_id, refresh_id],
            )
        swap()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
