-- Plain PostgreSQL path: time-series tables range-partitioned by time. Partitions are
-- created ahead (and on demand for late data) and dropped for retention by store.partitions;
-- the rollups are tables kept current by store.rollups.
INSERT INTO store_mode (mode) VALUES ('plain');

DROP TABLE probe_observation;
CREATE TABLE probe_observation (
    segment_id    text NOT NULL,
    minute        timestamptz NOT NULL,
    vehicle_id    text NOT NULL,
    vehicle_type  text NOT NULL DEFAULT 'other',
    n_fixes       integer NOT NULL,
    n_speed       integer NOT NULL,
    sum_speed_kmh double precision NOT NULL,
    sum_inv_speed double precision NOT NULL,
    PRIMARY KEY (segment_id, minute, vehicle_id)
) PARTITION BY RANGE (minute);

CREATE TABLE gps_fix (
    vehicle_id   text NOT NULL,
    ts           timestamptz NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    speed_kmh    real,
    heading_deg  real,
    accuracy_m   real,
    vehicle_type text NOT NULL DEFAULT 'other',
    source       text,
    PRIMARY KEY (vehicle_id, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE detector_reading (
    detector_id text NOT NULL,
    ts          timestamptz NOT NULL,
    lane        smallint NOT NULL DEFAULT -1,
    interval_s  integer NOT NULL,
    volume      integer NOT NULL,
    occupancy   real NOT NULL,
    speed_kmh   real,
    PRIMARY KEY (detector_id, lane, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE segment_state (
    segment_id       text NOT NULL,
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
    PRIMARY KEY (segment_id, minute)
) PARTITION BY RANGE (minute);

CREATE TABLE network_kpi (
    minute              timestamptz PRIMARY KEY,
    avg_speed_kmh       real,
    congested_km        real,
    vehicle_km          real,
    vehicle_hours       real,
    delay_vehicle_hours real,
    segments_with_data  integer
) PARTITION BY RANGE (minute);

CREATE TABLE segment_state_5m (
    segment_id text NOT NULL, bucket timestamptz NOT NULL,
    speed_kmh real, travel_time_s real, n_samples bigint, n_vehicles integer,
    congestion_level smallint, jam_factor real, confidence real, minutes integer,
    PRIMARY KEY (segment_id, bucket)
) PARTITION BY RANGE (bucket);
CREATE TABLE segment_state_15m (LIKE segment_state_5m INCLUDING ALL) PARTITION BY RANGE (bucket);
CREATE TABLE segment_state_1h (LIKE segment_state_5m INCLUDING ALL) PARTITION BY RANGE (bucket);

INSERT INTO ts_table (table_name, time_column, chunk_interval, retention) VALUES
    ('gps_fix',           'ts',     '1 day',   '3 days'),
    ('probe_observation', 'minute', '1 day',   '14 days'),
    ('detector_reading',  'ts',     '1 day',   '180 days'),
    ('segment_state',     'minute', '1 day',   '90 days'),
    ('network_kpi',       'minute', '30 days', '5 years'),
    ('segment_state_5m',  'bucket', '7 days',  '1 year'),
    ('segment_state_15m', 'bucket', '30 days', '2 years'),
    ('segment_state_1h',  'bucket', '90 days', '5 years');
