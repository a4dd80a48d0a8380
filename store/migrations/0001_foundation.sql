-- Foundation: road network, consumer checkpoints, probe observations, per-minute segment state.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE road_segment (
    segment_id      text PRIMARY KEY,
    way_id          text,
    name            text NOT NULL DEFAULT '',
    road_class      text NOT NULL,
    lanes           smallint NOT NULL DEFAULT 1,
    oneway          boolean NOT NULL DEFAULT false,
    speed_limit_kmh real,
    free_flow_kmh   real NOT NULL,
    length_m        real NOT NULL CHECK (length_m > 0),
    from_node       bigint NOT NULL,
    to_node         bigint NOT NULL,
    geom            geometry(LineString, 4326) NOT NULL
);
CREATE INDEX road_segment_geom_idx ON road_segment USING gist (geom);

-- Where each consumer group stands in each partition; written in the same transaction as the
-- results, so a replay after a crash resumes exactly after the last stored message.
CREATE TABLE consumer_checkpoint (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- One row per vehicle, segment and minute: the facts segment state is computed from.
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
);
CREATE INDEX probe_observation_minute_idx ON probe_observation (minute);

-- Per-segment state per minute (speeds km/h, travel time s).
CREATE TABLE segment_minute (
    segment_id    text NOT NULL,
    minute        timestamptz NOT NULL,
    n_fixes       integer NOT NULL,
    n_vehicles    integer NOT NULL,
    speed_kmh     real,
    travel_time_s real,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, minute)
);
CREATE INDEX segment_minute_minute_idx ON segment_minute (minute);
