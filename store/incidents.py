"""Incident persistence: create incidents, apply lifecycle actions, read the update history.

Statuses: ``suspected`` → ``confirmed`` → ``cleared`` (traffic recovered, automatic) or
``resolved`` (closed by an operator); ``dismissed`` (false alarm, by an operator) from either
active status. Every write bumps the incident's ``version`` and appends one ``incident_update``
row carrying the actor, the action, the new status, the change (``{"before", "after", "note"}``)
and a snapshot of the incident after the update. ``incident_update.seq`` orders all updates of
all incidents: writers take the transaction-level advisory lock :data:`WRITE_LOCK` before
inserting, so a row with seq N is never visible before the rows with smaller seq (the table
doubles as an outbox that a relay or a streaming reader resumes by seq).

Times are aware datetimes (stored UTC); coordinates WGS 84 degrees; delays seconds; queue
lengths metres. Functions run in the caller's transaction when there is one (else in their own).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from roadnet.errors import ITMSError

WRITE_LOCK = 0x17_75_0006
ACTIVE = ("suspected", "confirmed")
STATUSES = ("suspected", "confirmed", "cleared", "dismissed", "resolved")
#: action → (statuses it applies to, resulting status or None = unchanged)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "confirm": (("suspected",), "confirmed"),
    "dismiss": (ACTIVE, "dismissed"),
    "resolve": (ACTIVE, "resolved"),
    "clear": (ACTIVE, "cleared"),
    "update": (ACTIVE, None),
    "announce": (ACTIVE, None),  # a reviewed incident reaches operators (changes: announced)
    "annotate": (STATUSES, None),
}
#: Fields an action's ``changes`` may set.
EDITABLE = (
    "kind",
    "severity",
    "segment_id",
    "lon",
    "lat",
    "road_name",
    "direction",
    "est_delay_s",
    "queue_m",
    "method",
    "evidence",
    "started_at",
    "confidence",
    "announced",
)
#: The columns an incident row has (``get_incident``, ``store.queries.incidents``).
INCIDENT_COLUMNS = (
    "i.incident_id, i.status, i.kind, i.severity, i.segment_id, i.road_name, i.direction,"
    " ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.started_at, i.updated_at, i.ended_at,"
    " i.detected_at, i.confirmed_at, i.est_delay_s, i.queue_m, i.method, i.source,"
    " i.created_by, i.evidence,"
    " round(i.confidence::numeric, 3)::float8 AS confidence, i.announced, i.version"
)


class IncidentError(ITMSError):
    """Root of the incident store's errors."""


class IncidentNotFound(IncidentError, LookupError):
    """No incident has this id."""


class InvalidTransition(IncidentError, ValueError):
    """The action is not allowed in the incident's current status."""


class VersionConflict(IncidentError, ValueError):
    """The incident changed since the caller read it (``expected_version`` is stale)."""


class InvalidIncident(IncidentError, ValueError):
    """A field value is not acceptable (unknown action or field, severity out of 1–5 ...)."""


class DuplicateIncident(IncidentError, ValueError):
    """An incident with this id already exists."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidIncident(f"fields cannot be changed: {sorted(unknown)}")
    sev = fields.get("severity")
    if "severity" in fields and (not isinstance(sev, int) or not 1 <= sev <= 5):
        raise InvalidIncident(f"severity must be an integer 1–5 (got {sev!r})")
    if "kind" in fields and not fields["kind"]:
        raise InvalidIncident("kind must not be empty")
    if ("lon" in fields) != ("lat" in fields):
        raise InvalidIncident("lon and lat change together")
    if "evidence" in fields and not isinstance(fields["evidence"], dict):
        raise InvalidIncident("evidence must be an object")
    conf = fields.get("confidence")
    if conf is not None and (not isinstance(conf, int | float) or not 0.0 <= conf <= 1.0):
        raise InvalidIncident(f"confidence must be a number 0–1 (got {conf!r})")
    if "announced" in fields and not isinstance(fields["announced"], bool):
        raise InvalidIncident("announced must be true or false")
    for key in ("started_at",):
        if key in fields and (fields[key] is None or fields[key].tzinfo is None):
            raise InvalidIncident(f"{key} must be an aware datetime")


def get_incident(
    conn: psycopg.Connection, incident_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    """The stored incident; raises :class:`IncidentNotFound`."""
    lock = " FOR UPDATE OF i" if for_update else ""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {INCIDENT_COLUMNS} FROM incident i WHERE i.incident_id = %s{lock}",
            (incident_id,),
        ).fetchone()
    if row is None:
        raise IncidentNotFound(f"incident {incident_id} does not exist")
    return row


def active_incidents(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Suspected and confirmed incidents, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {INCIDENT_COLUMNS} FROM incident i"
            " WHERE i.status IN ('suspected', 'confirmed')"
            " ORDER BY i.started_at, i.incident_id"
        ).fetchall()


def _append_update(
    conn: psycopg.Connection,
    row: dict[str, Any],
    *,
    at: datetime,
    actor: str,
    action: str,
    change: dict[str, Any],
) -> int:
    stored = conn.execute(
        "INSERT INTO incident_update (incident_id, version, at, actor, action, status, change,"
        " snapshot) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq",
        (
            row["incident_id"],
            row["version"],
            at,
            actor,
            action,
            row["status"],
            Jsonb(_jsonable(change)),
            Jsonb(_jsonable(row)),
        ),
    ).fetchone()
    assert stored is not None  # INSERT … RETURNING returns the row
    return int(stored[0])


def create_incident(
    conn: psycopg.Connection,
    *,
    kind: str,
    severity: int,
    segment_id: str | None,
    lon: float | None,
    lat: float | None,
    road_name: str | None,
    direction: str | None,
    started_at: datetime,
    source: str,
    evidence: dict[str, Any],
    est_delay_s: float | None,
    actor: str,
    status: str = "suspected",
    incident_id: str | None = None,
    queue_m: float | None = None,
    method: str | None = None,
    detected_at: datetime | None = None,
    confidence: float | None = None,
    announced: bool = True,
    note: str | None = None,
) -> dict[str, Any]:
    """Store a new incident (version 1) and its ``create`` update; returns the stored row.
    ``confidence`` (0–1) is how sure the system is; an incident not ``announced`` is kept
    for review (not published until an update announces it); ``note`` goes with the
    ``create`` update (for instance why it is kept for review).

    ``source`` names where it came from (``detector``, ``probe``, ``fused``, ``operator``);
    ``detected_at`` defaults to ``started_at``. Raises :class:`InvalidIncident` on bad values
    and :class:`DuplicateIncident` when ``incident_id`` is taken.
    """
    if status not in ACTIVE:
        raise InvalidIncident(f"a new incident is suspected or confirmed (got {status!r})")
    if started_at.tzinfo is None:
        raise InvalidIncident("started_at must be an aware datetime")
    fields = {"kind": kind, "severity": severity, "evidence": evidence,
              "confidence": confidence, "announced": announced}  # fmt: skip
    if lon is not None or lat is not None:
        fields.update(lon=lon, lat=lat)
    _check_fields(fields)
    incident_id = incident_id or f"inc-{uuid.uuid4().hex[:16]}"
    detected_at = detected_at or started_at
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        inserted = conn.execute(
            "INSERT INTO incident (incident_id, status, kind, severity, segment_id, road_name,"
            " direction, geom, started_at, updated_at, detected_at, confirmed_at, est_delay_s,"
            " queue_m, method, source, created_by, evidence, confidence, announced, version)"
            " VALUES (%(id)s,"
            " %(status)s, %(kind)s, %(severity)s, %(segment_id)s, %(road_name)s, %(direction)s,"
            " CASE WHEN %(lon)s::float8 IS NULL THEN NULL"
            "  ELSE ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) END,"
            " %(started_at)s, %(detected_at)s, %(detected_at)s,"
            " CASE WHEN %(status)s = 'confirmed' THEN %(detected_at)s END, %(delay)s,"
            " %(queue_m)s, %(method)s, %(source)s, %(actor)s, %(evidence)s, %(confidence)s,"
            " %(announced)s, 1)"
            " ON CONFLICT (incident_id) DO NOTHING RETURNING incident_id",
            {
                "id": incident_id,
                "status": status,
                "kind": kind,
                "severity": severity,
                "segment_id": segment_id,
                "road_name": road_name,
                "direction": direction,
                "lon": lon,
                "lat": lat,
                "started_at": started_at,
                "detected_at": detected_at,
                "delay": est_delay_s,
                "queue_m": queue_m,
                "method": method,
                "source": source,
                "actor": actor,
                "evidence": Jsonb(_jsonable(evidence)),
                "confidence": confidence,
                "announced": announced,
            },
        ).fetchone()
        if inserted is None:
            raise DuplicateIncident(f"incident {incident_id} already exists")
        row = get_incident(conn, incident_id)
        after = {k: v for k, v in row.items() if k not in ("version", "updated_at")}
        _append_update(
            conn,
            row,
            at=detected_at,
            actor=actor,
            action="create",
            change={"before": None, "after": after, "note": note},
        )
    return row


def apply_action(
    conn: psycopg.Connection,
    incident_id: str,
    *,
    action: str,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Apply a lifecycle action and return the updated incident.

    Actions: ``confirm`` (suspected → confirmed), ``dismiss`` / ``resolve`` / ``clear``
    (active → dismissed / resolved / cleared; sets ``ended_at``), ``update`` (active; field
    ``changes`` only), ``announce`` (active; a reviewed incident is published: ``announced``
    true), ``annotate`` (any status; a note only). ``changes`` (fields of
    :data:`EDITABLE`) may come with any action but ``annotate``. ``at`` defaults to now.

    Raises :class:`IncidentNotFound`, :class:`VersionConflict` (``expected_version`` differs
    from the stored version), :class:`InvalidTransition` and :class:`InvalidIncident`.
    """
    if action not in TRANSITIONS:
        raise InvalidIncident(f"unknown action {action!r}; one of {sorted(TRANSITIONS)}")
    changes = dict(changes or {})
    if action == "announce":
        changes.setdefault("announced", True)
    if action == "annotate" and changes:
        raise InvalidIncident("annotate takes a note, not changes")
    if action == "update" and not changes and note is None:
        raise InvalidIncident("update needs changes or a note")
    _check_fields(changes)
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise InvalidIncident("at must be an aware datetime")
    allowed_from, new_status = TRANSITIONS[action]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        row = get_incident(conn, incident_id, for_update=True)
        if expected_version is not None and expected_version != row["version"]:
            raise VersionConflict(
                f"incident {incident_id} is at version {row['version']}, not {expected_version}"
            )
        if row["status"] not in allowed_from:
            raise InvalidTransition(f"cannot {action} a {row['status']} incident")
        before = {k: row[k] for k in changes if row.get(k) != changes[k]}
        after = {k: changes[k] for k in before}
        sets = ["version = version + 1", "updated_at = greatest(updated_at, %(at)s)"]
        params: dict[str, Any] = {"id": incident_id, "at": at}
        if new_status is not None and new_status != row["status"]:
            before["status"], after["status"] = row["status"], new_status
            sets.append("status = %(status)s")
            params["status"] = new_status
            if new_status == "confirmed":
                sets.append("confirmed_at = %(at)s")
            else:
                sets.append("ended_at = %(at)s")
        for key, value in after.items():
            if key in ("status",):
                continue
            if key == "lon":
                sets.append("geom = ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)")
                params.update(lon=changes["lon"], lat=changes["lat"])
            elif key == "lat":
                if "lon" not in after:
                    sets.append("geom = ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)")
                    params.update(lon=changes["lon"], lat=changes["lat"])
            else:
                sets.append(f"{key} = %({key})s")
                params[key] = Jsonb(_jsonable(value)) if key == "evidence" else value
        conn.execute(f"UPDATE incident SET {', '.join(sets)} WHERE incident_id = %(id)s", params)
        row = get_incident(conn, incident_id)
        _append_update(
            conn,
            row,
            at=at,
            actor=actor,
            action=action,
            change={"before": before, "after": after, "note": note},
        )
    return row


def updates_after(
    conn: psycopg.Connection, after_seq: int, *, limit: int = 500
) -> list[dict[str, Any]]:
    """Updates with ``seq > after_seq`` in seq order (the outbox / event stream).

    Each row: ``seq``, ``incident_id``, ``version``, ``at``, ``actor``, ``action``, ``status``,
    ``change`` and ``snapshot`` (the incident after the update, JSON-ready)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT seq, incident_id, version, at, actor, action, status, change, snapshot"
            " FROM incident_update WHERE seq > %s ORDER BY seq LIMIT %s",
            (after_seq, limit),
        ).fetchall()


def relay_position(conn: psycopg.Connection, relay: str) -> int:
    """Last seq published by ``relay`` (0 when it never ran)."""
    row = conn.execute("SELECT last_seq FROM incident_relay WHERE relay = %s", (relay,)).fetchone()
    return int(row[0]) if row else 0


def set_relay_position(conn: psycopg.Connection, relay: str, last_seq: int) -> None:
    """Record that ``relay`` published every update up to ``last_seq``."""
    conn.execute(
        "INSERT INTO incident_relay (relay, last_seq) VALUES (%s, %s) ON CONFLICT (relay)"
        " DO UPDATE SET last_seq = greatest(incident_relay.last_seq, excluded.last_seq),"
        " updated_at = now()",
        (relay, last_seq),
    )


def is_announced(update: dict[str, Any]) -> bool:
    """Whether an ``incident_update`` row may be published: its incident was announced (rows
    of incidents kept for review are not; the ``announce`` update then carries the whole
    incident)."""
    return bool((update.get("snapshot") or {}).get("announced", True))


def event_of(update: dict[str, Any]) -> dict[str, Any]:
    """The JSON event published on the incidents topic for one ``incident_update`` row."""
    return _jsonable(
        {
            "v": 1,
            "seq": update["seq"],
            "incident_id": update["incident_id"],
            "version": update["version"],
            "at": update["at"],
            "actor": update["actor"],
            "action": update["action"],
            "status": update["status"],
            "change": update["change"],
            "incident": update["snapshot"],
        }
    )
