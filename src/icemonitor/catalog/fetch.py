"""Fetch release files into the raw archive, from a local mirror or from their upstream URL.

Every file is checked against the catalog's SHA-256 before it enters the archive; a mismatch raises
ChecksumError and the bad bytes are discarded. Downloads stream to a ``.part`` file and resume with an
HTTP Range request after an interruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from icemonitor import __version__, config
from icemonitor.catalog import archive, pins
from icemonitor.catalog.archive import ArchivedFile
from icemonitor.catalog.catalog import Catalog, Release, ReleaseFile, load_catalog
from icemonitor.errors import ChecksumError, IcemonitorError, InputError, error_message
from icemonitor.messages import Message, msg

# progress(event, name, n): "total" (n = bytes this run will transfer), "advance" (n bytes, may be
# negative when a download restarts from zero), "done" (n = file size).
Progress = Callable[[str, str, int], None]

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class FetchError(IcemonitorError):
    """A file could not be obtained (network failure after retries, HTTP error, no source). Raised with a message
    (said in the command's language)."""


def _checksum_error(name: str, expected: str, actual: str, origin: str) -> ChecksumError:
    err = ChecksumError(
        msg("checksum mismatch for {name} from {origin}: expected sha256 {expected}, got {actual}; not archived",
            name=name, origin=origin, expected=expected, actual=actual),
        file=name,
    )
    err.expected, err.actual = expected, actual
    return err


def mirror_candidates(mirror: Path, f: ReleaseFile) -> list[Path]:
    """Where a file may sit in a mirror: laid out like shared/data, or like shared/data/ice."""
    out = [mirror / f.mirror_path]
    if f.mirror_path.startswith("ice/"):
        out.append(mirror / f.mirror_path[len("ice/"):])
    return out


def _from_mirror(src: Path, release: Release, f: ReleaseFile, home: Path | None, progress: Progress,
                 origin: str | None = None) -> ArchivedFile:
    staged = archive.staging_file(release.id, f.name, home)
    h = hashlib.sha256()
    try:
        with src.open("rb") as fin, staged.open("wb") as fout:
            for chunk in iter(lambda: fin.read(archive.CHUNK), b""):
                h.update(chunk)
                fout.write(chunk)
                progress("advance", f.name, len(chunk))
            fout.flush()
            os.fsync(fout.fileno())
        actual = h.hexdigest()
        if actual != f.sha256:
            raise _checksum_error(f.name, f.sha256, actual, str(src))
        return archive.store(staged, release_id=release.id, name=f.name, sha256=f.sha256, origin=origin or str(src),
                             home=home)
    finally:
        staged.unlink(missing_ok=True)


def _download_to_part(client: httpx.Client, url: str, part: Path, f: ReleaseFile, progress: Progress,
                      retries: int, backoff: float) -> None:
    """Stream ``url`` into ``part`` until it holds f.bytes bytes, resuming with Range after interruptions."""
    failures = attempts = 0
    while True:
        attempts += 1
        if attempts > 20 * (retries + 1):
            raise FetchError(msg("download of {name} gave up after {requests} requests ({url})", name=f.name,
                                 requests=attempts - 1, url=url))
        have = part.stat().st_size if part.exists() else 0
        if have > f.bytes:  # longer than the catalog says: cannot be a prefix of the right file
            progress("advance", f.name, -have)
            part.unlink()
            have = 0
        if have == f.bytes and part.exists():
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        received = 0
        try:
            with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 416 and have:  # the server has nothing past what we hold: start over
                    progress("advance", f.name, -have)
                    part.unlink()
                    continue
                if resp.status_code in RETRY_STATUS:
                    raise httpx.TransportError(f"HTTP {resp.status_code}")
                if resp.status_code not in (200, 206):
                    raise FetchError(_http_failed(f.name, resp.status_code, url))
                start = _range_start(resp) if resp.status_code == 206 else 0
                if start not in (0, have):  # a range we did not ask for: drop it and ask for the whole file
                    progress("advance", f.name, -have)
                    part.unlink(missing_ok=True)
                    continue
                mode = "ab" if start == have else "wb"
                if mode == "wb" and have:  # the server ignored the Range request: restart from zero
                    progress("advance", f.name, -have)
                part.parent.mkdir(parents=True, exist_ok=True)
                with part.open(mode) as out:
                    try:
                        for chunk in resp.iter_raw():
                            out.write(chunk)
                            received += len(chunk)
                            progress("advance", f.name, len(chunk))
                    finally:
                        out.flush()
                        os.fsync(out.fileno())
            size = part.stat().st_size
            if size >= f.bytes:
                return
            raise httpx.RemoteProtocolError(f"connection ended after {size} of {f.bytes} bytes")
        except httpx.HTTPError as err:
            failures = 0 if received else failures + 1  # progress resets the retry budget ...
            if failures > retries:  # (the loop also stops after a fixed number of requests)
                kept = part.exists() and part.stat().st_size > 0
                if part.exists() and not kept:
                    part.unlink()
                failed = _retries_failed(f.name, retries, err, url)
                failure = FetchError(msg("{failed}; the partial file is kept and the next fetch resumes it",
                                         failed=failed) if kept else failed)
                failure.unreachable = isinstance(err, httpx.ConnectError)
                raise failure from None
            time.sleep(min(backoff * (2 ** max(failures - 1, 0)), 30.0))


def _http_failed(name: str, status: int, url: str) -> Message:
    return msg("download of {name} failed: HTTP {status} from {url}", name=name, status=status, url=url)


def _retries_failed(name: str, retries: int, err: Exception, url: str) -> Message:
    return msg("download of {name} failed after {retries} retries: {error} ({url})", name=name, retries=retries,
               error=str(err), url=url)


def _range_start(resp: httpx.Response) -> int | None:
    """Where a 206 response's Content-Range begins (None when it cannot be read)."""
    unit, _, rest = resp.headers.get("content-range", "").partition(" ")
    try:
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def _from_url(client: httpx.Client, release: Release, f: ReleaseFile, home: Path | None, progress: Progress,
              retries: int, backoff: float) -> ArchivedFile:
    assert f.url
    part = archive.partial_path(release.id, f.name, f.sha256, home)
    part.parent.mkdir(parents=True, exist_ok=True)
    if part.exists():
        progress("advance", f.name, part.stat().st_size)
    _download_to_part(client, f.url, part, f, progress, retries, backoff)
    actual = archive.sha256_file(part)
    if actual != f.sha256:
        part.unlink(missing_ok=True)
        raise _checksum_error(f.name, f.sha256, actual, f.url)
    with part.open("rb") as fh:
        os.fsync(fh.fileno())
    return archive.store(part, release_id=release.id, name=f.name, sha256=f.sha256, origin=f.url, home=home)


def _select(catalog: Catalog, release_ids: str | Sequence[str] | None) -> list[Release]:
    """The named releases; without names, every release fetched by default (not the on_request ones)."""
    if release_ids is None or (not isinstance(release_ids, str) and not release_ids):
        return catalog.default_releases()
    if isinstance(release_ids, str):
        release_ids = [release_ids]
    return [catalog.release(r) for r in release_ids]


def missing(release_ids: str | Sequence[str] | None = None, *, home: Path | None = None,
            catalog: Catalog | None = None) -> list[tuple[Release, ReleaseFile]]:
    """Files of the given releases (by default those not marked on_request) not yet archived with their checksum
    (for a file without a catalog checksum: the one recorded at its first fetch). Derivation inputs, fetched only
    when needed, are not listed."""
    catalog = catalog or load_catalog()
    return [(r, f) for r in _select(catalog, release_ids) for f in r.files
            if not f.input_only and pins.find_archived(r, f, home) is None]


def missing_optional(release_ids: str | Sequence[str] | None = None, *, home: Path | None = None,
                     catalog: Catalog | None = None) -> list[tuple[Release, ReleaseFile]]:
    """Optional files (e.g. a transcribed extract only a mirror holds) that are not archived: the build goes on
    without them and says so."""
    return [(r, f) for r, f in missing(release_ids, home=home, catalog=catalog) if f.optional]


def fetch(release_ids: str | Sequence[str] | None = None, *, home: Path | None = None, mirror: Path | str | None = None,
          progress: Progress | None = None, catalog: Catalog | None = None, client: httpx.Client | None = None,
          retries: int = 5, backoff: float = 0.5, timeout: float = 60.0, recheck: bool = False,
          accept_new_version: bool = False, verify: bool = False) -> list[ArchivedFile]:
    """Archive every file of the given releases (by default every release not marked on_request) that is not
    archived yet with the right checksum, taking it from ``mirror`` (or ICEMONITOR_MIRROR) when present there,
    else downloading it. Returns one ArchivedFile per catalog file (``new`` tells which were stored by this call).

    Files without a catalog checksum are checked against the one recorded at their first fetch (pins.py);
    ``recheck`` downloads them again to see whether upstream changed; other bytes are refused unless
    ``accept_new_version``. With ``verify``, archived copies are hashed again and a corrupt one is fetched anew
    (the corrupt copy stays)."""
    catalog = catalog or load_catalog()
    home = Path(home) if home else config.home()
    mirror_dir = Path(mirror).expanduser() if mirror else config.mirror()
    if mirror_dir is not None and not mirror_dir.is_dir():
        raise InputError(msg("mirror folder does not exist"), file=str(mirror_dir))
    report = progress or (lambda event, name, n: None)
    releases = _select(catalog, release_ids)
    results: dict[tuple[str, str], ArchivedFile] = {}
    todo = []
    known = archive.index(home)
    for r in releases:
        for f in r.files:
            if f.pinned_at_first_fetch or verify:
                found = pins.find_archived(r, f, home, full=verify)
            else:
                found = archive.find(r.id, f.name, f.sha256, f.bytes, candidates=known.get((r.id, f.name), []))
            if found:
                results[(r.id, f.name)] = found
            if (not found and not f.input_only) or (recheck and f.pinned_at_first_fetch):
                todo.append((r, f))  # derivation inputs are fetched when a derivation needs them
    report("total", "", sum(f.bytes or 0 for _, f in todo))
    own_client = client is None and any(f.url or f.derive for _, f in todo)
    if own_client:
        client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)), follow_redirects=True,
            headers={"User-Agent": f"icemonitor/{__version__}", "Accept-Encoding": "identity"},
        )
    errors: list[IcemonitorError] = []
    sources = _Sources(catalog, mirror_dir, client, home, report, retries, backoff)
    try:
        with _lock(home):
            for r, f in todo:
                try:
                    if f.pinned_at_first_fetch:
                        sources.check_reachable(r, f)
                        got = _fetch_pinned(r, f, mirror_dir, client, home, report, retries, backoff,
                                            accept_new_version)
                        if got is not None:  # None: the same bytes as the archived copy
                            results[(r.id, f.name)] = got
                    else:
                        results[(r.id, f.name)] = sources.fetch_anew(r, f)
                except MissingOptional:  # the build goes on without it and says so
                    continue
                except IcemonitorError as err:  # keep going: archive whatever can be archived
                    if getattr(err, "unreachable", False) and f.url:
                        sources.unreachable.add(urlsplit(f.url).netloc)
                    errors.append(_with_damaged_copy(err, r, f, home))
                    continue
                report("done", f.name, f.bytes or 0)
    finally:
        if own_client:
            client.close()
        _tidy_partials(home)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        listed = msg("- {error}", error=error_message(errors[0]))
        for e in errors[1:]:
            listed = msg("{a}\n- {b}", a=listed, b=error_message(e))
        err = FetchError(msg("{count} files could not be archived:\n{errors}", count=len(errors), errors=listed))
        err.errors = errors
        raise err
    return [results[(r.id, f.name)] for r in releases for f in r.files if (r.id, f.name) in results]


def corrupt_copy_text(path: Path, release_id: str, what: str) -> Message:
    """What is wrong with an archived copy and how to repair it (for fetch and build errors)."""
    return msg("the archived copy {path} is corrupt ({what}). To repair it, run `icemonitor fetch {release} --verify` "
               "with the file reachable upstream or in a mirror (--mirror DIR or ICEMONITOR_MIRROR); a fresh copy is "
               "archived beside the corrupt one, which is kept read-only for inspection", path=str(path), what=what,
               release=release_id)


def _with_damaged_copy(err: IcemonitorError, r: Release, f: ReleaseFile, home: Path) -> IcemonitorError:
    """A failed fetch of a file the archive already held with the catalog's checksum: say that copy is damaged."""
    held = next((e for e in archive.entries(r.id, f.name, home) if e.sha256 == f.sha256), None)
    if held is None:
        return err
    try:
        size = held.path.stat().st_size
        what = (msg("{size:,} bytes, the catalog says {bytes:,}", size=size, bytes=f.bytes) if size != f.bytes
                else msg("its bytes no longer hash to sha256 {sha256}", sha256=f.sha256))
    except OSError:
        what = msg("the file is missing")
    out = FetchError(msg("{release}/{file}: {corrupt}. Fetching it again failed: {error}", release=r.id, file=f.name,
                         corrupt=corrupt_copy_text(held.path, r.id, what), error=error_message(err)))
    out.unreachable = getattr(err, "unreachable", False)
    return out


class MissingOptional(FetchError):
    """An optional file no source provides: fetch skips it and the build says it is missing."""


class _Sources:
    """Obtains one catalog file from wherever it can come from: the package (curated knowledge and shipped
    assets), the mirror, its upstream address, or a derivation from other catalog files (fetched first)."""

    def __init__(self, catalog: Catalog, mirror_dir: Path | None, client: httpx.Client | None, home: Path,
                 report: Progress, retries: int, backoff: float):
        self.catalog, self.mirror_dir, self.client, self.home = catalog, mirror_dir, client, home
        self.report, self.retries, self.backoff = report, retries, backoff
        self.by_path = catalog.by_mirror_path()
        self.unreachable: set[str] = set()  # hosts that refused connections: later files from them fail at once
        self.archived = archive.index(home)

    def obtain(self, r: Release, f: ReleaseFile) -> ArchivedFile:
        """The archived copy, or a new one from the first source that has the file."""
        found = archive.find(r.id, f.name, f.sha256, f.bytes, candidates=self.archived.get((r.id, f.name), []))
        return found if found is not None else self.fetch_anew(r, f)

    def fetch_anew(self, r: Release, f: ReleaseFile) -> ArchivedFile:
        """A new copy from the first source that has the file (an archived copy, perhaps corrupt, is not used)."""
        found = self._obtain(r, f)
        self.archived.setdefault((r.id, f.name), []).insert(0, found)
        return found

    def check_reachable(self, r: Release, f: ReleaseFile) -> None:
        """Fail at once for a file whose host could not be reached earlier in this run (and no mirror has it)."""
        host = urlsplit(f.url).netloc if f.url else ""
        if host in self.unreachable and _mirror_file(self.mirror_dir, f) is None:
            raise FetchError(msg("{release}/{file}: not tried, {host} could not be reached earlier in this run",
                                 release=r.id, file=f.name, host=host))

    def _obtain(self, r: Release, f: ReleaseFile) -> ArchivedFile:
        if f.package_data:  # the package's own copy: the mirror's is only a test fixture
            return _from_package(r, f, self.home, self.report)
        src = _mirror_file(self.mirror_dir, f)
        if src is not None:
            return _from_mirror(src, r, f, self.home, self.report)
        if f.url:
            return self._download(r, f)
        if f.derive:
            return self._derive(r, f)
        where = msg(" (looked in {mirror})", mirror=str(self.mirror_dir)) if self.mirror_dir else ""
        if f.optional:
            raise MissingOptional(msg("{release}/{file} is optional and no mirror provides it{where}", release=r.id,
                                      file=f.name, where=where))
        raise FetchError(msg(
            "{release}/{file} has no upstream URL, derivation or packaged copy, and no mirror provides it{where}: "
            "pass --mirror DIR or set ICEMONITOR_MIRROR (a folder laid out like shared/data holding {path})",
            release=r.id, file=f.name, where=where, path=f.mirror_path))

    def _download(self, r: Release, f: ReleaseFile) -> ArchivedFile:
        host = urlsplit(f.url).netloc
        self.check_reachable(r, f)
        try:
            return _from_url(self.client, r, f, self.home, self.report, self.retries, self.backoff)
        except FetchError as err:
            if getattr(err, "unreachable", False):
                self.unreachable.add(host)
            raise

    def _derive(self, r: Release, f: ReleaseFile) -> ArchivedFile:
        from icemonitor.catalog.derive import DERIVATIONS

        inputs = {}
        for path in f.inputs:
            if path not in self.by_path:
                raise InputError(msg("{release}/{file}: derivation input is not a catalog file", release=r.id,
                                     file=f.name), file=path)
            try:
                inputs[path] = self.obtain(*self.by_path[path]).path
            except IcemonitorError as err:
                raise FetchError(msg("{release}/{file}: not derived, its input {path} is missing: {error}",
                                     release=r.id, file=f.name, path=path, error=error_message(err))) from None
        staged = archive.staging_file(r.id, f.name, self.home)
        try:
            data = DERIVATIONS[f.derive](inputs, f.name)
            staged.write_bytes(data)
            self.report("advance", f.name, len(data))
            actual = hashlib.sha256(data).hexdigest()
            origin = f"derived:{f.derive}(" + ", ".join(f.inputs) + ")"
            if actual != f.sha256:
                raise _checksum_error(f.name, f.sha256, actual, origin)
            return archive.store(staged, release_id=r.id, name=f.name, sha256=f.sha256, origin=origin, home=self.home)
        finally:
            staged.unlink(missing_ok=True)


def package_file(f: ReleaseFile) -> Path:
    """Where the package keeps a file it ships (``package_data`` is relative to the icemonitor package)."""
    return Path(str(resources.files("icemonitor"))) / f.package_data


def _from_package(release: Release, f: ReleaseFile, home: Path | None, progress: Progress) -> ArchivedFile:
    src = package_file(f)
    if not src.is_file():
        raise FetchError(msg("{release}/{file}: the package lacks {path} (a broken install?)", release=release.id,
                             file=f.name, path=f.package_data))
    return _from_mirror(src, release, f, home, progress, origin=f"package:{f.package_data}")


def _download_whole(client: httpx.Client, url: str, part: Path, name: str, progress: Progress,
                    retries: int, backoff: float) -> None:
    """Stream ``url`` into ``part`` from the start (size unknown, so no resume), retrying transient failures."""
    for attempt in range(retries + 1):
        received = 0
        try:
            with client.stream("GET", url) as resp:
                if resp.status_code in RETRY_STATUS:
                    raise httpx.TransportError(f"HTTP {resp.status_code}")
                if resp.status_code != 200:
                    raise FetchError(_http_failed(name, resp.status_code, url))
                with part.open("wb") as out:
                    for chunk in resp.iter_raw():
                        out.write(chunk)
                        received += len(chunk)
                        progress("advance", name, len(chunk))
                    out.flush()
                    os.fsync(out.fileno())
            return
        except httpx.HTTPError as err:
            progress("advance", name, -received)
            if attempt == retries:
                failure = FetchError(_retries_failed(name, retries, err, url))
                failure.unreachable = isinstance(err, httpx.ConnectError)
                raise failure from None
            time.sleep(min(backoff * (2 ** attempt), 30.0))


def _fetch_pinned(r: Release, f: ReleaseFile, mirror_dir: Path | None, client: httpx.Client | None, home: Path,
                  report: Progress, retries: int, backoff: float, accept_new: bool) -> ArchivedFile | None:
    """A file without a catalog checksum: the first copy's checksum is recorded; a later copy with other bytes
    is refused unless accepted as a new version. None when the copy equals the one already archived."""
    pin = pins.latest(r.id, f.name, home)
    src = _mirror_file(mirror_dir, f)
    if src is None and not f.url:
        raise FetchError(msg("{release}/{file} has no upstream URL and no mirror provides it: pass --mirror DIR",
                             release=r.id, file=f.name))
    staged = archive.staging_file(r.id, f.name, home)
    try:
        if src is not None:
            shutil.copyfile(src, staged)
            origin = str(src)
        else:
            _download_whole(client, f.url, staged, f.name, report, retries, backoff)
            origin = f.url
        actual, size = archive.sha256_file(staged), staged.stat().st_size
        if pin is not None and actual == pin.sha256:
            kept = archive.find(r.id, f.name, actual, size, home=home)
            if kept is not None:
                return None  # unchanged upstream
        elif pin is not None and not accept_new:
            err = ChecksumError(msg(
                "{name} from {origin} differs from the copy first fetched on {day} (sha256 {pinned}, got {actual}); "
                "refused: fetch again with --accept-new-version to archive it as a new version", name=f.name,
                origin=origin, day=pin.pinned_at[:10], pinned=pin.sha256, actual=actual), file=f.name)
            err.expected, err.actual = pin.sha256, actual
            raise err
        with staged.open("rb") as fh:
            os.fsync(fh.fileno())
        stored = archive.store(staged, release_id=r.id, name=f.name, sha256=actual, origin=origin, home=home)
        if pin is None or actual != pin.sha256:
            pins.record(r.id, f.name, actual, size, origin, pins.FIRST_FETCH if pin is None else pins.NEW_VERSION, home)
        return stored
    finally:
        staged.unlink(missing_ok=True)


@contextlib.contextmanager
def _lock(home: Path):
    """One fetch at a time per home (two would write the same .part file)."""
    root = archive.raw_root(home)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".fetch.lock", "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _mirror_file(mirror_dir: Path | None, f: ReleaseFile) -> Path | None:
    if mirror_dir is None:
        return None
    for cand in mirror_candidates(mirror_dir, f):
        if cand.is_file():
            return cand
    return None


def _tidy_partials(home: Path) -> None:
    """Remove empty partial folders (kept .part files stay for the next resume)."""
    root = archive.raw_root(home) / archive.PARTIAL
    if not root.exists():
        return
    for d in sorted(root.glob("*"), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            shutil.rmtree(d, ignore_errors=True)


def archived_path(release_id: str, file_name: str, *, home: Path | None = None, full_check: bool = False,
                  catalog: Catalog | None = None) -> Path:
    """The newest archived copy of a catalog file. Checked cheaply (manifest checksum equals the catalog's,
    size matches); ``full_check`` re-hashes the bytes. InputError when it has not been fetched."""
    catalog = catalog or load_catalog()
    release = catalog.release(release_id)
    f = release.file(file_name)
    entry = pins.find_archived(release, f, home, full=full_check)
    if entry is None:
        older = next(archive.entries(release_id, file_name, home), None)
        said = (msg("not fetched (the archive holds a copy with a different checksum): run `icemonitor fetch "
                    "{release}`", release=release_id) if older else
                msg("not fetched: run `icemonitor fetch {release}`", release=release_id))
        raise InputError(said, file=file_name)
    return entry.path


def reference_resolver(home: Path | None = None, *, catalog: Catalog | None = None) -> Callable[[str], Path]:
    """A function mapping a shared/data-layout path (e.g. "geo/counties_fips.csv") to its archived copy."""
    catalog = catalog or load_catalog()
    index = catalog.by_mirror_path()

    def resolve(path: str) -> Path:
        key = Path(path).as_posix().lstrip("/")
        try:
            release, f = index[key]
        except KeyError:
            raise InputError(msg("no catalog file has this mirror path"), file=path) from None
        return archived_path(release.id, f.name, home=home, catalog=catalog)

    return resolve


def archived_files(home: Path | None = None, *, catalog: Catalog | None = None) -> Iterable[tuple[Release, ReleaseFile, ArchivedFile | None]]:
    """Every catalog file with its archived copy (None when not fetched)."""
    catalog = catalog or load_catalog()
    for r in catalog.releases:
        for f in r.files:
            yield r, f, pins.find_archived(r, f, home)
