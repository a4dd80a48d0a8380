-- Time-series store shared by both paths (plain PostgreSQL and TimescaleDB).
-- Tables whose name is registered in ts_table are partitioned by time: the
-- 0003 migration makes them range-partitioned (plain) or hypertables (TimescaleDB).

-- Which time-series tables exist, how they are chunked and how long rows are kept.
CREATE TABLE ts_table (
    table_name     text PRIMARY KEY,
    time_column    text NOT NULL,
    chunk_interval interval NOT NULL,
    retention      interval            -- NULL = keep forever
);

CREATE TABLE store_mode (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    mode      text NOT NULL CHECK (mode IN ('plain', 'timescaledb'))
);

-- Detectors (loop detectors, counting cameras) and their service status.
CREATE TABLE detector (
    detector_id text PRIMARY KEY,
    segment_id  text REFERENCES road_segment (segment_id),
    position_m  real,
    lanes       smallint,
    kind        text NOT NULL DEFAULT 'loop',
    status      text NOT NULL DEFAULT 'in_service' CHECK (status IN ('in_service', 'failed')),
    status_note text,
    geom        geometry(Point, 4326),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX detector_geom_idx ON detector USING gist (geom);
CREATE INDEX detector_segment_idx ON detector (segment_id);

-- Per-segment state now: one row per segment, kept by the state writer (fast current-state reads).
CREATE TABLE segment_current (
    segment_id       text PRIMARY KEY,
    minute           timestamptz NOT NULL,
    speed_kmh        real,
    travel_time_s    real,
    free_flow_kmh    real,
    n_samples        integer NOT NULL DEFAULT 0,
    n_vehicles       integer NOT NULL DEFAULT 0,
    congestion_level smallint,
    jam_factor       real,
    confidence       real,
    source           text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Incidents and their full update history.
CREATE TABLE incident (
    incident_id     text PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('suspected', 'confirmed', 'cleared', 'dismissed', 'resolved')),
    kind            text NOT NULL,
    severity        smallint NOT NULL CHECK (severity BETWEEN 1 AND 5),
    segment_id      text,
    road_name       text,
    direction       text,
    geom            geometry(Point, 4326),
    started_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    est_delay_s     real,
    source          text NOT NULL,
    evidence        jsonb NOT NULL DEFAULT '{}'::jsonb,
    version         integer NOT NULL DEFAULT 1
);
CREATE INDEX incident_active_idx ON incident (status, started_at DESC)
    WHERE status IN ('suspected', 'confirmed');
CREATE INDEX incident_started_idx ON incident (started_at DESC);
CREATE INDEX incident_geom_idx ON incident USING gist (geom);

CREATE TABLE incident_update (
    incident_id text NOT NULL REFERENCES incident (incident_id),
    version     integer NOT NULL,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    status      text NOT NULL,
    change      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (incident_id, version)
);

-- The thin slice's per-minute table is replaced by segment_state (0003).
DROP TABLE segment_minute;

-- Hours whose rollups need recomputing (plain path; written with the states, drained by
-- store.rollups.refresh_dirty_rollups).
CREATE TABLE rollup_dirty (
    hour timestamptz PRIMARY KEY
);
