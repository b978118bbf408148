"""Known rubric versions: from files (``<dir>/<name>/v<N>.yaml``) and from the API.

A version, once used by a verdict, is immutable: its hash is recorded, and a file that later
changes under the same version is refused with a message to save it as a new version.
Files are re-read on demand (when their mtime changes), so editing a rubric needs no restart.

A reference is ``name``, ``name@version`` or either with ``:variant`` (``helpfulness@2:errors``):
a variant is a rewording held in the version's file, with its own hash, recorded on first use in
``rubric_variants`` and as immutable as the version itself.
"""

from __future__ import annotations

from typing import Any

import os
import re
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from judge_service.errors import Conflict, InvalidInput, NotFound
from judge_service.rubrics.model import DEFAULT_VARIANT, Rubric, RubricFile, build_rubric
from judge_service.rubrics.render import check_templates
from judge_service.store.db import Database
from judge_service.store.models import RubricVariantRow, RubricVersionRow

_FILE_RE = re.compile(r"^v(\d+)\.ya?ml$")


def _version(file_name: str) -> int:
    m = _FILE_RE.match(file_name)
    assert m is not None  # only names that matched are scanned
    return int(m.group(1))


def parse_rubric(raw: object, *, source: str, test_render: bool = True) -> Rubric:
    try:
        parsed = RubricFile.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidInput(f"rubric {source} is invalid at '{loc}': {err['msg']}", field=loc) from None
    rubric = build_rubric(parsed)
    if test_render:  # every wording is test-rendered: a variant is a template too
        for wording in rubric.alternatives.values() or [rubric]:
            check_templates(wording.name, wording.instructions, wording.criteria, wording.templates, wording.modes)
    return rubric


def split_variant(ref: str) -> tuple[str, str | None]:
    """``"name@2:errors"`` -> ``("name@2", "errors")``; no ``:`` -> no variant named."""
    base, sep, variant = ref.partition(":")
    if sep and not variant:
        raise InvalidInput("a rubric variant is named after ':', e.g. 'helpfulness@1:errors'", field="rubric")
    return base, (variant or None)


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"name"`` or ``"name@version"`` (``@v2`` accepted too)."""
    name, _, version = ref.partition("@")
    if not name:
        raise InvalidInput("rubric must be 'name' or 'name@version'", field="rubric")
    if not version:
        return name, None
    v = version.lstrip("v")
    if not v.isdigit():
        raise InvalidInput(f"rubric version '{version}' is not a number; use 'name@2'", field="rubric")
    return name, int(v)


class RubricRegistry:
    def __init__(self, dirs: list[Path], db: Database) -> None:
        self.dirs = [Path(d) for d in dirs]
        self.db = db
        self._file_cache: dict[str, tuple[float, Rubric | InvalidInput]] = {}
        self._api: dict[tuple[str, int], Rubric] = {}
        # (name, version, hash) known to be recorded as used with this very hash: a used version is
        # immutable, so neither the check nor the mark needs the database again (two sessions a verdict).
        self._recorded: set[tuple[str, int, str]] = set()
        with db.session() as s:
            for row in s.query(RubricVersionRow).filter_by(source="api"):
                # Test-rendered when added; not again at every start (one hostile rubric once slowed each
                # restart by ~30 s). One stored before templates had a budget is refused when used.
                self._api[(row.name, row.version)] = parse_rubric(row.content, source=f"{row.name}@{row.version} (stored)",
                                                                  test_render=False)

    # -- reading -----------------------------------------------------------------------------
    def _scan_files(self, only: str | None = None) -> dict[tuple[str, int], Rubric | InvalidInput]:
        """Every rubric file, or only those of the rubric named ``only`` (what a resolve needs)."""
        # os.scandir and one stat per file, not Path.glob: this runs on every verdict (change
        # detection is the files' mtimes), and glob's pattern machinery cost ~150 us of it.
        found: dict[tuple[str, int], Rubric | InvalidInput] = {}
        for d in self.dirs:
            try:
                if only is not None:  # one folder, not the whole tree: this runs on every verdict
                    folders = [(only, os.path.join(d, only))] if only not in (".", "..") and "/" not in only else []
                else:
                    folders = sorted((e.name, e.path) for e in os.scandir(d) if e.is_dir())
            except (FileNotFoundError, NotADirectoryError):
                continue
            for folder, folder_path in folders:
                try:
                    files = sorted((e.name, e.path) for e in os.scandir(folder_path) if _FILE_RE.match(e.name))
                except (OSError, ValueError):  # no such folder (or a requested name no path can hold)
                    continue
                for name, file_path in files:
                    try:
                        mtime = os.stat(file_path).st_mtime
                    except FileNotFoundError:  # removed meanwhile
                        continue
                    cached = self._file_cache.get(file_path)
                    if cached is None or cached[0] != mtime:
                        path = Path(file_path)
                        try:
                            parsed = parse_rubric(yaml.safe_load(path.read_text()), source=str(path))
                            rubric: Rubric | InvalidInput = parsed
                            if (parsed.name, parsed.version) != (folder, int(_version(name))):
                                rubric = InvalidInput(
                                    f"rubric file {path} declares {parsed.ref}; its folder and file name must match "
                                    f"(rubrics/{parsed.name}/v{parsed.version}.yaml)", field="rubric")
                        except (InvalidInput, yaml.YAMLError) as e:
                            rubric = e if isinstance(e, InvalidInput) else InvalidInput(f"{path}: {e}", field="rubric")
                        cached = (mtime, rubric)
                        self._file_cache[file_path] = cached
                    found[(folder, _version(name))] = cached[1]
        return found

    def all(self) -> dict[tuple[str, int], Rubric | InvalidInput]:
        merged: dict[tuple[str, int], Rubric | InvalidInput] = dict(self._scan_files())
        merged.update(self._api)
        return merged

    def versions(self, name: str) -> list[Rubric]:
        found = [(v, r) for (n, v), r in self.all().items() if n == name]
        if not found:
            raise NotFound(f"unknown rubric '{name}'; GET /v1/rubrics lists the available ones", field="rubric")
        return [r for _, r in sorted(found, key=lambda t: t[0]) if isinstance(r, Rubric)]

    def resolve(self, ref: str, *, mode: str | None = None) -> Rubric:
        """The rubric a request names, checked against its recorded hash. Latest version if none given.

        With ``:variant`` the result is that wording (checked against its own recorded hash)."""
        ref, variant = split_variant(ref)
        base = self._resolve_base(ref, mode=mode)
        return base if variant is None else self.variant(base, variant)

    def resolve_if_known(self, ref: str, *, mode: str | None = None) -> Rubric | None:
        """``resolve`` without the database, when it would not need it: the default wording of a version
        this process knows is recorded as used with this very hash (the files are still re-checked).
        None in every other case, errors included: then call ``resolve`` (off the event loop)."""
        try:
            base_ref, variant = split_variant(ref)
            if variant is not None:
                return None
            rubric = self._resolve_base(base_ref, mode=mode, check_recorded=False)
        except (InvalidInput, NotFound, Conflict):
            return None
        return rubric if self.marked_used(rubric) else None

    def variant(self, base: Rubric, variant: str, *, field: str = "rubric") -> Rubric:
        try:
            wording = base.wording(variant)
        except KeyError:
            raise NotFound(f"rubric {base.name}@{base.version} has no variant '{variant}'; its variants: "
                           f"{list(base.variant_names)}", field=field) from None
        self._check_variant_unchanged(wording)
        return wording

    def resolve_variants(self, ref: str, variants: list[str] | None, *, mode: str | None = None,
                         field: str = "rubric_variants") -> list[Rubric]:
        """The wordings a panel over variants uses: the named ones, or every one when ``variants`` is
        ``["all"]``; the ref's own variant when none are named."""
        if variants is None:
            return [self.resolve(ref, mode=mode)]
        base_ref, named = split_variant(ref)
        if named is not None:
            raise InvalidInput(f"name the variants in '{field}', not in the rubric ref ('{ref}')", field="rubric")
        base = self._resolve_base(base_ref, mode=mode)
        names = list(base.variant_names) if variants == ["all"] else variants
        if not names:
            raise InvalidInput(f"'{field}' is empty; name at least one variant or omit it", field=field)
        if len(set(names)) != len(names):
            raise InvalidInput(f"'{field}' names a variant twice: {names}", field=field)
        return [self.variant(base, n, field=field) for n in names]

    def _resolve_base(self, ref: str, *, mode: str | None = None, check_recorded: bool = True) -> Rubric:
        name, version = parse_ref(ref)
        merged = dict(self._scan_files(only=name))
        merged.update(self._api)
        known = {v: r for (n, v), r in merged.items() if n == name}
        if not known:
            raise NotFound(f"unknown rubric '{name}'; GET /v1/rubrics lists the available ones", field="rubric")
        if version is None:
            version = max(known)
        if version not in known:
            raise NotFound(f"rubric '{name}' has no version {version}; known versions: {sorted(known)}", field="rubric")
        rubric = known[version]
        if isinstance(rubric, InvalidInput):
            raise rubric
        if check_recorded:
            self._check_unchanged(rubric)
        if mode is not None and mode not in rubric.modes:
            raise InvalidInput(f"rubric {rubric.ref} does not support mode '{mode}' (supports {list(rubric.modes)})", field="rubric")
        return rubric

    def _check_unchanged(self, rubric: Rubric) -> None:
        if (rubric.name, rubric.version, rubric.hash) in self._recorded:
            return
        with self.db.session() as s:
            row = s.get(RubricVersionRow, (rubric.name, rubric.version))
            if row is not None and row.used and row.hash == rubric.hash:
                self._recorded.add((rubric.name, rubric.version, rubric.hash))
            if row is not None and row.used and row.hash != rubric.hash:
                raise Conflict(
                    f"rubric '{rubric.name}' v{rubric.version} changed since it was first used "
                    f"(hash {rubric.hash[:8]}… ≠ recorded {row.hash[:8]}…); verdicts must stay reproducible, "
                    f"so save your edit as v{self._next_version(rubric.name)} and restore v{rubric.version}",
                    field="rubric",
                )

    def _check_variant_unchanged(self, rubric: Rubric) -> None:
        if rubric.variant == DEFAULT_VARIANT:
            return
        with self.db.session() as s:
            row = s.get(RubricVariantRow, (rubric.name, rubric.version, rubric.variant))
            if row is not None and row.hash != rubric.hash:
                raise Conflict(
                    f"rubric {rubric.ref} changed since it was first used (hash {rubric.hash[:8]}… ≠ recorded "
                    f"{row.hash[:8]}…); verdicts must stay reproducible, so restore its wording and add the new one "
                    f"as another variant, or save the rubric as v{self._next_version(rubric.name)}",
                    field="rubric",
                )

    def _next_version(self, name: str) -> int:
        versions = [v for (n, v) in self.all() if n == name]
        with self.db.session() as s:
            versions += [r.version for r in s.query(RubricVersionRow).filter_by(name=name)]
        return max(versions, default=0) + 1

    # -- writing -----------------------------------------------------------------------------
    def marked_used(self, rubric: Rubric) -> bool:
        """Whether this process already knows the version is recorded as used (``mark_used`` would do nothing)."""
        return (rubric.name, rubric.version, rubric.hash) in self._recorded

    def mark_used(self, rubric: Rubric) -> None:
        if (rubric.name, rubric.version, rubric.hash) in self._recorded:
            return
        try:
            self._mark_used(rubric)
        except IntegrityError:  # another process (uvicorn --workers) inserted the row first: now update it
            self._mark_used(rubric)

    def _mark_used(self, rubric: Rubric) -> None:
        base = rubric.wording(DEFAULT_VARIANT)
        with self.db.session() as s:
            row = s.get(RubricVersionRow, (base.name, base.version))
            if row is None:
                s.add(RubricVersionRow(name=base.name, version=base.version, hash=base.hash,
                                       content=base.source or base.content, source="file", used=True))
            elif not row.used:
                row.used, row.hash = True, base.hash
                if row.source != "api":
                    row.content = base.source or base.content
            elif row.hash != base.hash:
                return  # used with other content: _check_unchanged refuses it
            if rubric.variant != DEFAULT_VARIANT and s.get(
                    RubricVariantRow, (rubric.name, rubric.version, rubric.variant)) is None:
                s.add(RubricVariantRow(name=rubric.name, version=rubric.version, variant=rubric.variant,
                                       hash=rubric.hash, content=rubric.content))
        self._recorded.add((rubric.name, rubric.version, rubric.hash))

    def add(self, raw: dict[str, Any]) -> tuple[Rubric, bool]:
        """Add a version by API. Returns (rubric, created). Same content again is a no-op."""
        rubric = parse_rubric(raw, source="in request")
        existing = self.all().get((rubric.name, rubric.version))
        with self.db.session() as s:
            row = s.get(RubricVersionRow, (rubric.name, rubric.version))
        recorded_hash = row.hash if row is not None else (existing.hash if isinstance(existing, Rubric) else None)
        if recorded_hash is not None:
            if recorded_hash == rubric.hash:
                return self._add_wordings(rubric, existing, row)
            raise Conflict(
                f"rubric '{rubric.name}' v{rubric.version} already exists with different content; "
                f"versions are immutable, so send it as version {self._next_version(rubric.name)}",
                field="version",
            )
        with self.db.session() as s:
            s.add(RubricVersionRow(name=rubric.name, version=rubric.version, hash=rubric.hash,
                                   content=rubric.source or rubric.content, source="api", used=False))
        self._api[(rubric.name, rubric.version)] = rubric
        return rubric, True

    def _add_wordings(self, rubric: Rubric, existing: Rubric | InvalidInput | None,
                      row: RubricVersionRow | None) -> tuple[Rubric, bool]:
        """The same base content again: a no-op, or new variants beside unchanged ones (a new wording is
        a new immutable version of its own; a changed or dropped one is refused)."""
        if not isinstance(existing, Rubric):
            return rubric, False
        old = {v: existing.wording(v).hash for v in existing.variant_names}
        new = {v: rubric.wording(v).hash for v in rubric.variant_names}
        if old == new:
            return existing, False
        changed = sorted(v for v in old if new.get(v) != old[v])
        if changed:
            raise Conflict(f"rubric '{rubric.name}' v{rubric.version}: variant(s) {changed} would change or disappear; "
                           "a wording is immutable, so add the new one under another variant name", field="variants")
        if row is None or row.source != "api":
            raise Conflict(f"rubric '{rubric.name}' v{rubric.version} comes from a file; add its variants in "
                           "the file", field="variants")
        with self.db.session() as s:
            stored = s.get(RubricVersionRow, (rubric.name, rubric.version))
            if stored is not None:
                stored.content = rubric.source or rubric.content
        self._api[(rubric.name, rubric.version)] = rubric
        return rubric, True
