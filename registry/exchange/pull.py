"""Applying (national side): fetch a province's feed after the applied cursor, check every entry
against the sequence and the hash chain, apply what checks out page by page, each page in one
transaction with the cursor advance, and report what was refused or conflicts.

An entry is a snapshot of a record as the province wrote it, so applying it means "make the linked
record look like this": applying the same entry twice changes nothing.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import requests
from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.db.models.functions import Left
from django.utils import timezone

from accounts import audit

from ..models import Equipment, LifecycleEvent, Unit
from ..models.exchange import (
    ChangeOperation,
    ConflictKind,
    ExchangeConflict,
    ExchangeLink,
    ExchangePeer,
    PullState,
)
from ..models.identifiers import LABELS, taken_identifier
from . import keys
from .changelog import BY_LABEL, LABEL_OF, chain

Fetch = Callable[[ExchangePeer, int, int], dict]


class FeedUnavailable(Exception):
    """The province did not answer with a page (connection refused, timeout, non-200, bad JSON)."""


def fetch_page(peer: ExchangePeer, after: int, limit: int) -> dict:
    """One page of the peer's feed over HTTP(S), with the token the province issued."""
    url = peer.base_url.rstrip("/") + "/api/exchange/feed/"
    try:
        response = requests.get(
            url,
            params={"after": after, "limit": limit},
            headers={"Authorization": f"Token {peer.token}"},
            timeout=settings.EXCHANGE_PULL_TIMEOUT,
        )
    except requests.RequestException as error:
        raise FeedUnavailable(f"{url}: {error}") from error
    if response.status_code != 200:
        raise FeedUnavailable(f"{url}: HTTP {response.status_code} {response.text[:200]}")
    try:
        return response.json()
    except ValueError as error:
        raise FeedUnavailable(f"{url}: not JSON") from error


@dataclass
class PullResult:
    peer: str
    applied: int = 0
    skipped: int = 0
    conflicts: int = 0
    pages: int = 0
    seconds: float = 0.0
    state: str = PullState.OK
    message: str = ""
    by_model: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return (self.applied + self.conflicts) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.peer}: {self.applied} applied, {self.skipped} skipped, "
            f"{self.conflicts} conflicts, {self.pages} pages, {self.rate:,.0f} entries/s "
            f"[{self.state}]" + (f" {self.message}" if self.message else "")
        )


class _Stop(Exception):
    def __init__(self, state: str, message: str):
        super().__init__(message)
        self.state, self.message = state, message


class _Conflict(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


# The device's national identifiers the database keeps unique (registry/models/identifiers.py).
EQUIPMENT_IDENTIFIERS = ("device_code", "registration_code", "certificate_number", "rescue_id")


def _identities(data: dict) -> dict[str, str | tuple[str, str]]:
    """What the unique indexes compare, per identifier the snapshot gives: the value, or for a
    rescue ID its city and the value. A blank is not assigned, and may repeat; a value that is no
    text is left to the field rules."""
    city = str(data.get("region_id") or "")[:4]
    return {
        name: (city, value) if name == "rescue_id" else value
        for name in EQUIPMENT_IDENTIFIERS
        if (value := data.get(name)) and isinstance(value, str)
    }


def _taken(name: str, value: object) -> str:
    """The conflict's words: the field and the province's own value, nothing of the holder."""
    chinese, english = LABELS[name]
    shown = f" {value}" if value and name != "national_id" else ""
    return f"{chinese}{shown} 已由他处登记 / {english}{shown} is already registered elsewhere"


def _refusal(error: DatabaseError | ProtectedError, data: dict) -> tuple[str, str]:
    """The conflict a database refusal makes: a taken identifier names its field."""
    name = taken_identifier(error) if isinstance(error, IntegrityError) else None
    # A unit's duplicate_key promises a link to the holder; one the database refused has none.
    if name is None or name == "credit_code":
        return ConflictKind.INVALID, str(error)[:1000]
    return ConflictKind.DUPLICATE_KEY, _taken(name, data.get(name))


def verify(peer: ExchangePeer, entries: list[dict]) -> tuple[list[dict], _Stop | None]:
    """The entries that follow the applied cursor without a gap and carry the hash the chain
    demands; the first that does not stops the list there, with the reason."""
    good, seq, last_hash = [], peer.applied_seq, peer.last_hash
    for entry in entries:
        if entry.get("seq") != seq + 1:
            return good, _Stop(
                PullState.GAP,
                f"期望序号 {seq + 1}，收到 {entry.get('seq')} / expected seq "
                f"{seq + 1}, got {entry.get('seq')}",
            )
        try:
            expected = chain(last_hash, entry)
        except (KeyError, TypeError, ValueError):
            expected = None
        if expected is None or entry.get("hash") != expected:
            return good, _Stop(
                PullState.TAMPERED,
                f"序号 {seq + 1} 哈希不符 / entry {seq + 1} fails the hash chain",
            )
        good.append(entry)
        seq, last_hash = seq + 1, expected
    return good, None


class _Applier:
    """Applies one page's verified entries, resolving references through the peer's links.

    Batched (the first try): creates wait in a buffer and go in with one bulk insert per model,
    flushed when a later entry refers to one of them; natural keys are looked up once per page.
    Careful (when a batched page hits a database error): each entry in its own savepoint, so one
    bad row becomes a conflict and the rest of the page still applies.
    """

    def __init__(self, peer: ExchangePeer, entries: list[dict], *, batched: bool):
        self.peer, self.batched = peer, batched
        self.pending: list[tuple[tuple[str, int], models.Model]] = []
        self.pending_keys: set[tuple[str, int]] = set()
        self.new_links: list[ExchangeLink] = []
        wanted: dict[str, set[int]] = {}
        identities: dict[str, set] = {name: set() for name in EQUIPMENT_IDENTIFIERS}
        credit_codes = set()
        for entry in entries:
            wanted.setdefault(entry["model"], set()).add(entry["object_pk"])
            spec = BY_LABEL.get(entry["model"])
            if spec is None:
                continue
            entry["data"] = data = json.loads(entry["payload"])
            for f in _relations(spec):
                if data.get(f.attname) is not None:
                    wanted.setdefault(BY_LABEL_OF[f.related_model], set()).add(data[f.attname])
            if spec.model is Equipment:
                for name, identity in _identities(data).items():
                    identities[name].add(identity)
            if spec.model is Unit and data.get("credit_code"):
                credit_codes.add(data["credit_code"])
        self.links: dict[tuple[str, int], ExchangeLink] = {}
        for label, pks in wanted.items():
            for link in ExchangeLink.objects.filter(peer=peer, model=label, origin_pk__in=pks):
                self.links[(label, link.origin_pk)] = link
        # Codes the nation holds: a create carrying one is a conflict, not a second record.
        self.held = {name: _held(name, values) for name, values in identities.items()}
        self.credit_codes = dict(
            Unit.objects.filter(credit_code__in=credit_codes).values_list("credit_code", "pk")
        )

    def flush(self) -> None:
        """Insert the waiting creates (one statement per model) and their links."""
        by_model: dict[type[models.Model], list[models.Model]] = {}
        for _, instance in self.pending:
            by_model.setdefault(type(instance), []).append(instance)
        for model, instances in by_model.items():
            model._base_manager.bulk_create(instances)
        for key, instance in self.pending:
            self.new_links.append(
                ExchangeLink(peer=self.peer, model=key[0], origin_pk=key[1], local_pk=instance.pk)
            )
        created = ExchangeLink.objects.bulk_create(self.new_links)
        for link in created:
            self.links[(link.model, link.origin_pk)] = link
        self.pending, self.pending_keys, self.new_links = [], set(), []

    def link(self, key: tuple[str, int]) -> ExchangeLink | None:
        if key in self.pending_keys:
            self.flush()
        return self.links.get(key)

    def values(self, spec, data: dict) -> dict:
        values = {}
        known = {f.attname: f for f in spec.fields()}
        for key, value in data.items():
            f = known.get(key)
            if f is None:
                raise _Conflict(ConflictKind.INVALID, f"未知字段 / unknown field {key}")
            target = BY_LABEL_OF.get(f.related_model) if f.is_relation else None
            if target and value is not None:
                link = self.link((target, value))
                if link is None:
                    raise _Conflict(
                        ConflictKind.MISSING_REFERENCE,
                        f"{key} 引用的{target} #{value} 未同步 / {key} refers to {target} "
                        f"#{value}, which the nation does not hold",
                    )
                value = link.local_pk
            elif isinstance(f, GeometryField) and value is not None:
                value = GEOSGeometry(value)
            elif isinstance(f, models.DecimalField) and isinstance(value, float):
                value = Decimal(repr(value))  # the shortest spelling: the digits the province sent
            elif isinstance(f, models.CharField | models.TextField) and not isinstance(
                value, str | None
            ):
                # full_clean would pass str(value), and the insert would store "['…']" as a code.
                raise _Conflict(ConflictKind.INVALID, f"{key} 应为文本 / {key} must be text")
            values[key] = value
        return values

    def apply(self, entry: dict) -> _Conflict | None:
        """Make the linked record look like the entry's snapshot; a conflict that still let a
        link be made (a unit already here) is returned, any other is raised."""
        spec = BY_LABEL.get(entry["model"])
        if spec is None:
            raise _Conflict(ConflictKind.INVALID, f"未知对象类型 / unknown model {entry['model']}")
        data = entry["data"]
        division = entry["division_code"]
        region = data.get("region_id", division)
        if not (division.startswith(self.peer.prefix) and region == division):
            raise _Conflict(
                ConflictKind.OUTSIDE_PROVINCE,
                f"区划 {region} 不属于 {self.peer.code} / division {region} is outside "
                f"province {self.peer.code}",
            )
        key = (spec.label, entry["object_pk"])
        link = self.link(key)
        model = spec.model
        if entry["operation"] == ChangeOperation.DELETE:
            if link is None:
                return None
            if link.owned:
                model._base_manager.filter(pk=link.local_pk).delete()
            link.delete()
            del self.links[key]
            return None
        values = self.values(spec, data)
        if link is not None:
            if not link.owned:
                raise _Conflict(
                    ConflictKind.DUPLICATE_KEY,
                    "该记录由他处登记，未覆盖 / the record was registered elsewhere first; "
                    "not overwritten",
                )
            if model is LifecycleEvent:
                return None  # append-only: an event, once here, is as the province recorded it
            updated = {"updated_at": timezone.now()} if _has(model, "updated_at") else {}
            _check(model(pk=link.local_pk, **values))
            model._base_manager.filter(pk=link.local_pk).update(**values, **updated)
            return None
        identities = _identities(data) if model is Equipment else {}
        for name, identity in identities.items():
            if identity in self.held[name]:
                raise _Conflict(ConflictKind.DUPLICATE_KEY, _taken(name, data[name]))
        existing = self.credit_codes.get(data.get("credit_code")) if model is Unit else None
        if existing is not None:
            self.new_links.append(
                ExchangeLink(
                    peer=self.peer,
                    model=spec.label,
                    origin_pk=entry["object_pk"],
                    local_pk=existing,
                    owned=False,
                )
            )
            self.flush()
            # Reported, not raised: the link must outlive the entry's savepoint.
            return _Conflict(
                ConflictKind.DUPLICATE_KEY,
                f"信用代码 {data['credit_code']} 已有单位，已关联未覆盖 / a unit with credit code "
                f"{data['credit_code']} already exists: linked to it, not overwritten",
            )
        instance = model(**values)
        _check(instance)
        self.pending.append((key, instance))
        self.pending_keys.add(key)
        for name, identity in identities.items():
            self.held[name].add(identity)  # a later create in the page is then refused too
        if model is Unit and data.get("credit_code"):
            self.credit_codes[data["credit_code"]] = None  # a second create with it: a DB error
        if not self.batched:
            self.flush()
        return None

    def run(self, entries: list[dict]) -> tuple[Counter, list[tuple[dict, str, str]]]:
        applied, conflicts = Counter(), []
        for entry in entries:
            try:
                if self.batched:
                    noted = self.apply(entry)
                else:
                    with transaction.atomic():
                        noted = self.apply(entry)
                if noted is not None:
                    raise noted
                applied[entry["model"]] += 1
            except _Conflict as conflict:
                conflicts.append((entry, conflict.kind, conflict.message))
            except (ValidationError, ValueError, TypeError) as error:
                # Raised before the entry wrote anything: safe without a savepoint.
                conflicts.append((entry, ConflictKind.INVALID, str(error)[:1000]))
            except (DatabaseError, ProtectedError) as error:
                if self.batched:
                    raise
                # The savepoint took the entry's rows back; its buffered create goes too.
                self.pending, self.pending_keys, self.new_links = [], set(), []
                conflicts.append((entry, *_refusal(error, entry.get("data") or {})))
        self.flush()
        return applied, conflicts


def _as_json(text: str | None) -> dict:
    """The snapshot as the conflict keeps it (plain JSON numbers), whatever it held."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {"unreadable": text}


def _held(name: str, identities: set) -> set:
    """Which of the page's identities of one kind a national device already holds."""
    if not identities:
        return set()
    if name != "rescue_id":
        return set(
            Equipment.objects.filter(**{f"{name}__in": identities}).values_list(name, flat=True)
        )
    rows = (
        Equipment.objects.annotate(city=Left("region_id", 4))
        .filter(city__in={city for city, _ in identities}, rescue_id__in={v for _, v in identities})
        .values_list("city", "rescue_id")
    )
    return set(rows) & identities


def _relations(spec) -> list[models.Field]:
    return [f for f in spec.fields() if f.is_relation and f.related_model in BY_LABEL_OF]


def _check(instance: models.Model) -> None:
    """Field rules (choices, lengths, dates) and the model's own clean(); references were resolved
    through the links and unique codes are left to the database, so no query per field."""
    relations = [f.name for f in instance._meta.concrete_fields if f.is_relation]
    instance.full_clean(exclude=relations, validate_unique=False, validate_constraints=False)


def _has(model: type[models.Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


# The log's name of each exchanged model (apps above the registry add theirs: changelog.register).
BY_LABEL_OF = LABEL_OF


def _apply_page(peer: ExchangePeer, entries: list[dict], result: PullResult) -> None:
    try:
        with transaction.atomic():
            applied, conflicts = _Applier(peer, entries, batched=True).run(entries)
    except (DatabaseError, ProtectedError):
        # Something only the database refuses (a unique code inside the page, a protected
        # delete): redo the page entry by entry, so that one becomes a conflict.
        applied, conflicts = _Applier(peer, entries, batched=False).run(entries)
    ExchangeConflict.objects.bulk_create(
        [
            ExchangeConflict(
                peer=peer,
                seq=entry["seq"],
                kind=kind,
                operation=entry["operation"],
                model=entry["model"],
                origin_pk=entry["object_pk"],
                division_code=entry["division_code"][:6],
                message=message,
                payload=_as_json(entry.get("payload")),
            )
            for entry, kind, message in conflicts
        ],
        ignore_conflicts=True,
    )
    result.applied += sum(applied.values())
    result.by_model.update(applied)
    result.conflicts += len(conflicts)


def pull(
    peer: ExchangePeer,
    *,
    limit: int | None = None,
    fetch: Fetch = fetch_page,
    progress: Callable[[int, int], None] | None = None,
) -> PullResult:
    """Pull and apply everything the peer has after our cursor; stop at the first gap, broken
    hash or failed request, having kept every page applied before it."""
    limit = limit or settings.EXCHANGE_FEED_PAGE
    result = PullResult(peer=peer.code)
    started = time.perf_counter()
    stopped_in_page = False  # the page's transaction then saved the peer's state itself
    key = keys.key_for(peer.code)
    if key is None:
        result.state = PullState.ERROR
        result.message = (
            f"未配置与 {peer.code} 共享的交换密钥 / no exchange key shared with {peer.code}: "
            f"set {keys.ENV} (docs/exchange.md)"
        )
    while key is not None:
        try:
            body = fetch(peer, peer.applied_seq, limit)
        except FeedUnavailable as error:
            result.state, result.message = PullState.ERROR, str(error)
            break
        if not keys.page_is_authentic(key, peer.applied_seq, body):
            # Nothing of a page we cannot authenticate is applied, not even its first entries:
            # whoever recomputed the SHA-256 chain could not recompute this MAC.
            result.state = PullState.TAMPERED
            result.message = (
                f"序号 {peer.applied_seq} 之后的一页签名不符，未应用 / the page after seq "
                f"{peer.applied_seq} fails its HMAC-SHA256 with the key shared with {peer.code} "
                "(forged or altered in transit, or the two keys differ): nothing of it applied"
            )
            break
        entries = body.get("entries") or []
        if not entries:
            last = body.get("last_seq") or 0
            if last != peer.applied_seq:
                # The log goes further (entries withheld) or ends before our cursor (rewound,
                # restored from a backup): either way what we hold and what it serves disagree.
                result.state = PullState.GAP
                result.message = (
                    f"推送止于 {last}，已应用至 {peer.applied_seq} / the feed ends at {last}, "
                    f"applied up to {peer.applied_seq}, and no entry came"
                )
            break
        with transaction.atomic():
            # One puller per peer at a time; a second one waits, then sees the advanced cursor.
            locked = ExchangePeer.objects.select_for_update().get(pk=peer.pk)
            if locked.applied_seq != peer.applied_seq:
                peer.refresh_from_db()
                continue
            good, stop = verify(locked, entries)
            skipped_before = result.applied + result.conflicts
            _apply_page(locked, good, result)
            if good:
                locked.applied_seq = good[-1]["seq"]
                locked.last_hash = good[-1]["hash"]
                audit.record(
                    None,
                    "exchange.applied",
                    locked,
                    after={
                        "from_seq": good[0]["seq"],
                        "to_seq": good[-1]["seq"],
                        "entries": result.applied + result.conflicts - skipped_before,
                        "by_model": dict(Counter(e["model"] for e in good)),
                    },
                    region_code=locked.code,
                )
            locked.state = stop.state if stop else PullState.OK
            locked.last_message = stop.message if stop else ""
            locked.last_pull_at = timezone.now()
            locked.save()
            peer.applied_seq, peer.last_hash = locked.applied_seq, locked.last_hash
        result.pages += 1
        if progress:
            progress(peer.applied_seq, body.get("last_seq") or peer.applied_seq)
        if stop:
            result.state, result.message = stop.state, stop.message
            stopped_in_page = True
            break
        if len(entries) < limit:
            break
    if not stopped_in_page:
        ExchangePeer.objects.filter(pk=peer.pk).update(
            state=result.state, last_message=result.message, last_pull_at=timezone.now()
        )
    result.seconds = time.perf_counter() - started
    return result
