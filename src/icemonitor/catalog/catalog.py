"""The release catalog: which releases exist, where their files come from and what their bytes must hash to.

The data lives in ``releases.yaml`` beside this module; this module only loads and validates it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from icemonitor.errors import InputError

DEFAULT_PATH = Path(__file__).with_name("releases.yaml")
RECORD_KINDS = ("arrests", "encounters", "removals", "bookins", "detainers", "i213", "detentions", "rca_decisions")
URL_REWRITE_ENV = "ICEMONITOR_URL_REWRITE"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Derivations that read an installed Python package rather than other catalog files.
_SELF_CONTAINED = {"addfips_data"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Coverage(_Model):
    """Dates the release's events span (inclusive)."""

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> Coverage:
        if self.to < self.from_:
            raise ValueError(f"coverage ends ({self.to}) before it starts ({self.from_})")
        return self


class Origin(_Model):
    """Where the release was published: repository, commit and path (from the mirror's SOURCE.md)."""

    repository: str | None = None
    commit: str | None = None
    path: str | None = None
    source_md: str | None = None


OriginClass = Literal["upstream", "derived", "curated"]


class ReleaseFile(_Model):
    """One file of a release, kept byte for byte in the raw archive.

    Where its bytes come from (docs/catalog.md): ``url`` (an upstream address), ``derive`` (a derivation in
    icemonitor.catalog.derive run on the catalog files at ``inputs``, mirror paths) or ``package_data`` (a file
    shipped inside the icemonitor package: curated knowledge, or an upstream asset such as the map). Whatever the
    source, the bytes must hash to ``sha256``. ``optional`` files may be missing: the build goes on without them.
    ``input_only`` files are fetched only when a derivation needs them.

    ``sha256: null`` (with ``bytes: null``) marks a file whose checksum cannot be known before it is first
    downloaded (e.g. a workbook behind a share link): the first fetch records it (catalog/pins.py) and later
    downloads must match it."""

    name: str
    url: str | None
    sha256: str | None
    bytes: int | None = Field(default=None, ge=0)
    mirror_path: str
    reader: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    derive: str | None = None
    inputs: list[str] = Field(default_factory=list)
    input_manifest: str | None = None  # a CSV in the catalog package listing more inputs (expanded when loading)
    package_data: str | None = None
    origin_class: OriginClass | None = None
    optional: bool = False
    input_only: bool = False

    @model_validator(mode="after")
    def _origin(self) -> ReleaseFile:
        if self.derive is None and self.inputs:
            raise ValueError(f"{self.name}: inputs are listed but no derivation")
        if self.derive is not None and not self.inputs and self.derive not in _SELF_CONTAINED:
            raise ValueError(f"{self.name}: derivation {self.derive!r} lists no inputs")
        if self.origin_class is None:
            cls = "derived" if self.derive else "upstream" if self.url else "curated" if self.package_data else None
            object.__setattr__(self, "origin_class", cls)
        return self

    @property
    def sources(self) -> list[str]:
        """Where the bytes can come from besides a mirror, in the order fetch tries them."""
        return [s for s, on in (("package", self.package_data), ("url", self.url), ("derive", self.derive)) if on]

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is not None and not _SHA256.match(v):
            raise ValueError(f"not a lowercase hex SHA-256: {v!r}")
        return v

    @model_validator(mode="after")
    def _size_with_checksum(self) -> ReleaseFile:
        if (self.sha256 is None) != (self.bytes is None):
            raise ValueError("sha256 and bytes are both known or both null (recorded at first fetch)")
        return self

    @property
    def pinned_at_first_fetch(self) -> bool:
        """True when the catalog has no checksum: the first fetch records one."""
        return self.sha256 is None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or "/" in v or "\\" in v or v in (".", ".."):
            raise ValueError(f"file name must be a plain file name: {v!r}")
        return v

    @field_validator("mirror_path")
    @classmethod
    def _relative(cls, v: str) -> str:
        p = Path(v)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"mirror_path must be relative and stay inside the mirror: {v!r}")
        return v


class Subset(_Model):
    """What part of the events a release holds, where it holds only some people or cases of its AORs and days (e.g.
    people later detained in Washington): its records are a lower bound, never a total (warehouse/coverage.py)."""

    en: str = Field(min_length=1)
    es: str = Field(min_length=1)


class Release(_Model):
    """A release: one publication of records (or of reference data) with its files."""

    id: str
    kind: Literal["event", "reference", "aggregate"]  # aggregate: published tables (read, not event records)
    title: str
    publisher: str
    foia_request: str | None = None
    record_kinds: list[str] = Field(default_factory=list)
    coverage: Coverage | None = None
    origin: Origin = Field(default_factory=Origin)
    notes: str | None = None
    # always: fetched and built by default; on_request: large releases fetched only when named
    # (`icemonitor fetch ID`), built once archived, and reported as lacking otherwise
    fetch: Literal["always", "on_request"] = "always"
    # The one state (USPS code) whose events the release holds, where it is a selection of one state's rows within
    # its AORs (e.g. a reporter's North Carolina selection): its records cover no other state (warehouse/coverage.py)
    scope_state: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    # What the release's events are a subset of, where they are a selection of people or cases (not of places or
    # days): its records never make a place and period countable; their count is a lower bound
    subset: Subset | None = None
    files: list[ReleaseFile]

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"release id must be lowercase letters, digits and dashes: {v!r}")
        return v

    @field_validator("record_kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in RECORD_KINDS]
        if bad:
            raise ValueError(f"unknown record kinds {bad} (known: {', '.join(RECORD_KINDS)})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Release:
        names = [f.name for f in self.files]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"file names repeat within the release: {dupes}")
        if not self.files:
            raise ValueError("a release needs at least one file")
        if self.kind == "event":
            if not self.record_kinds:
                raise ValueError("an event release must list its record kinds")
            if self.fetch == "always" and any(f.reader is None for f in self.files):
                raise ValueError("every file of an event release needs a reader (on_request releases may list "
                                 "files no reader reads yet, with a note)")
        elif self.kind == "aggregate":
            if self.record_kinds or any(f.reader is None for f in self.files):
                raise ValueError("an aggregate release has no record kinds and a reader for every file")
        elif any(f.reader is not None for f in self.files):
            raise ValueError("reference files have no reader")
        return self

    def file(self, name: str) -> ReleaseFile:
        """The file of this release with that original name."""
        for f in self.files:
            if f.name == name:
                return f
        raise InputError(
            f"release {self.id} has no file {name!r} (files: {', '.join(f.name for f in self.files)})", file=name
        )


class NotLoaded(_Model):
    """A file in the mirror that no release loads (aggregates), kept in the catalog with the reason."""

    name: str
    url: str | None
    sha256: str
    bytes: int
    mirror_path: str
    reason: str
    options: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class Catalog(_Model):
    """All releases, in catalog order."""

    version: int = 1
    releases: list[Release]
    not_loaded: list[NotLoaded] = Field(default_factory=list)
    path: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> Catalog:
        ids = [r.id for r in self.releases]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"release ids repeat: {dupes}")
        paths = [f.mirror_path for r in self.releases for f in r.files] + [n.mirror_path for n in self.not_loaded]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ValueError(f"mirror paths repeat: {dupes}")
        return self

    @cached_property
    def _by_id(self) -> dict[str, Release]:
        return {r.id: r for r in self.releases}

    def release(self, release_id: str) -> Release:
        """The release with that id; InputError listing the known ids otherwise."""
        try:
            return self._by_id[release_id]
        except KeyError:
            raise InputError(
                f"unknown release {release_id!r} (known: {', '.join(self._by_id)})", file=self.path, value=release_id
            ) from None

    def event_releases(self) -> list[Release]:
        return [r for r in self.releases if r.kind == "event"]

    def default_releases(self) -> list[Release]:
        """The releases fetched without being named (fetch: always)."""
        return [r for r in self.releases if r.fetch == "always"]

    def aggregate_releases(self) -> list[Release]:
        return [r for r in self.releases if r.kind == "aggregate"]

    def reference_releases(self) -> list[Release]:
        return [r for r in self.releases if r.kind == "reference"]

    def by_mirror_path(self) -> dict[str, tuple[Release, ReleaseFile]]:
        """mirror_path -> (release, file), for resolving shared/data-layout paths."""
        return {f.mirror_path: (r, f) for r in self.releases for f in r.files}


UrlRewrite = Callable[[str], str] | Mapping[str, str] | str | None


def _rewriter(rewrite: UrlRewrite) -> Callable[[str], str] | None:
    """Turn a rewrite spec into a function. A string is 'OLD_PREFIX=NEW_PREFIX' (several joined by ';');
    a mapping is {old prefix: new prefix}."""
    if rewrite is None or rewrite == "":
        return None
    if callable(rewrite):
        return rewrite
    if isinstance(rewrite, str):
        pairs = {}
        for part in rewrite.split(";"):
            if not part.strip():
                continue
            old, sep, new = part.partition("=")
            if not sep:
                raise InputError(f"{URL_REWRITE_ENV} must be OLD_PREFIX=NEW_PREFIX[;...]", field=URL_REWRITE_ENV, value=part)
            pairs[old.strip()] = new.strip()
        rewrite = pairs
    mapping = dict(rewrite)

    def apply(url: str) -> str:
        for old, new in mapping.items():
            if url.startswith(old):
                return new + url[len(old):]
        return url

    return apply


def load_catalog(path: Path | str | None = None, *, url_rewrite: UrlRewrite = None) -> Catalog:
    """Load and validate the catalog (the packaged releases.yaml by default).

    ``url_rewrite`` (or the ICEMONITOR_URL_REWRITE variable, 'OLD_PREFIX=NEW_PREFIX[;...]') replaces URL
    prefixes: it exists for tests and for private HTTP mirrors of the upstream repositories.
    """
    path = Path(path) if path else DEFAULT_PATH
    spec = url_rewrite if url_rewrite is not None else os.environ.get(URL_REWRITE_ENV)
    key = None
    if spec is None or isinstance(spec, str):
        try:
            key = (str(path.resolve()), path.stat().st_mtime_ns, spec)
        except OSError:
            key = None
        if key is not None and key in _CACHE:
            return _CACHE[key]
    catalog = _load(path, spec)
    if key is not None:
        _CACHE.clear()
        _CACHE[key] = catalog
    return catalog


_CACHE: dict[tuple, Catalog] = {}


def _expand_input_manifests(data: dict, folder: Path) -> None:
    """A derived file with many upstream inputs lists them in a CSV (name, mirror_path, url, sha256, bytes)
    instead of the YAML: each row becomes an input-only file of the same release and one of the file's inputs."""
    for rel in data.get("releases") or []:
        files = rel.get("files") or []
        for f in list(files):
            manifest = f.get("input_manifest")
            if not manifest:
                continue
            where = folder / manifest
            try:
                with where.open(encoding="utf-8", newline="") as fh:
                    rows = list(csv.DictReader(fh))
            except OSError as err:
                raise InputError(f"cannot read the input manifest: {err}", file=str(where)) from None
            for i, row in enumerate(rows, start=2):
                try:
                    files.append({"name": row["name"], "url": row["url"], "sha256": row["sha256"],
                                  "bytes": int(row["bytes"]), "mirror_path": row["mirror_path"], "input_only": True})
                except (KeyError, ValueError) as err:
                    raise InputError(f"bad input manifest row: {err}", file=str(where), row=i) from None
            f["inputs"] = list(f.get("inputs") or []) + [row["mirror_path"] for row in rows]


def _load(path: Path, spec: UrlRewrite) -> Catalog:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)  # noqa: S506 - libyaml, safe
    except OSError as err:
        raise InputError(f"cannot read the catalog: {err}", file=str(path)) from None
    except yaml.YAMLError as err:
        raise InputError(f"the catalog is not valid YAML: {err}", file=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("the catalog must be a mapping with a 'releases' list", file=str(path))
    _expand_input_manifests(data, DEFAULT_PATH.parent)  # manifests ship in the package beside releases.yaml
    rewrite = _rewriter(spec)
    if rewrite:
        for rel in data.get("releases") or []:
            for f in rel.get("files") or []:
                if f.get("url"):
                    f["url"] = rewrite(f["url"])
    try:
        catalog = Catalog.model_validate({**data, "path": str(path)})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"invalid catalog: {first['msg']}", file=str(path), field=where) from None
    return catalog
