-- migrate: no-transaction
-- TimescaleDB path: hypertables, continuous aggregates for the rollups, compression and
-- retention policies. Same tables and columns as the plain path.
INSERT INTO store_mode (mode) VALUES ('timescaledb');
DROP TABLE probe_observation;
CREATE TABLE probe_observation (segment_id text NOT NULL, minute timestamptz NOT NULL, vehicle_id text NOT NULL, vehicle_type text NOT NULL DEFAULT 'other', n_fixes integer NOT NULL, n_speed integer NOT NULL, sum_speed_kmh double precision NOT NULL, sum_inv_speed double precision NOT NULL, PRIMARY KEY (segment_id, minute, vehicle_id));
CREATE TABLE gps_fix (vehicle_id text NOT NULL, ts timestamptz NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL, speed_kmh real, heading_deg real, accuracy_m real, vehicle_type text NOT NULL DEFAULT 'other', source text, PRIMARY KEY (vehicle_id, ts));
CREATE TABLE detector_reading (detector_id text NOT NULL, ts timestamptz NOT NULL, lane smallint NOT NULL DEFAULT -1, interval_s integer NOT NULL, volume integer NOT NULL, occupancy real NOT NULL, speed_kmh real, PRIMARY KEY (detector_id, lane, ts));
CREATE TABLE segment_state (segment_id text NOT NULL, minute timestamptz NOT NULL, speed_kmh real, travel_time_s real, free_flow_kmh real, n_samples integer NOT NULL DEFAULT 0, n_vehicles integer NOT NULL DEFAULT 0, congestion_level smallint, jam_factor real, confidence real, source text NOT NULL, PRIMARY KEY (segment_id, minute));
CREATE TABLE network_kpi (minute timestamptz PRIMARY KEY, avg_speed_kmh real, congested_km real, vehicle_km real, vehicle_hours real, delay_vehicle_hours real, segments_with_data integer);
SELECT create_hypertable('probe_observation', 'minute', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('gps_fix', 'ts', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('detector_reading', 'ts', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('segment_state', 'minute', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('network_kpi', 'minute', chunk_time_interval => INTERVAL '30 days');
CREATE MATERIALIZED VIEW segment_state_5m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS SELECT segment_id, time_bucket(INTERVAL '5 minutes', minute) AS bucket, (count(speed_kmh) / NULLIF(sum(1.0 / NULLIF(speed_kmh, 0)), 0))::real AS speed_kmh, avg(travel_time_s)::real AS travel_time_s, sum(n_samples)::bigint AS n_samples, max(n_vehicles) AS n_vehicles, max(congestion_level) AS congestion_level, avg(jam_factor)::real AS jam_factor, avg(confidence)::real AS confidence, count(*)::integer AS minutes FROM segment_state GROUP BY segment_id, time_bucket(INTERVAL '5 minutes', minute) WITH NO DATA;
CREATE MATERIALIZED VIEW segment_state_15m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS SELECT segment_id, time_bucket(INTERVAL '15 minutes', minute) AS bucket, (count(speed_kmh) / NULLIF(sum(1.0 / NULLIF(speed_kmh, 0)), 0))::real AS speed_kmh, avg(travel_time_s)::real AS travel_time_s, sum(n_samples)::bigint AS n_samples, max(n_vehicles) AS n_vehicles, max(congestion_level) AS congestion_level, avg(jam_factor)::real AS jam_factor, avg(confidence)::real AS confidence, count(*)::integer AS minutes FROM segment_state GROUP BY segment_id, time_bucket(INTERVAL '15 minutes', minute) WITH NO DATA;
CREATE MATERIALIZED VIEW segment_state_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS SELECT segment_id, time_bucket(INTERVAL '1 hour', minute) AS bucket, (count(speed_kmh) / NULLIF(sum(1.0 / NULLIF(speed_kmh, 0)), 0))::real AS speed_kmh, avg(travel_time_s)::real AS travel_time_s, sum(n_samples)::bigint AS n_samples, max(n_vehicles) AS n_vehicles, max(congestion_level) AS congestion_level, avg(jam_factor)::real AS jam_factor, avg(confidence)::real AS confidence, count(*)::integer AS minutes FROM segment_state GROUP BY segment_id, time_bucket(INTERVAL '1 hour', minute) WITH NO DATA;
SELECT add_continuous_aggregate_policy('segment_state_5m', start_offset => INTERVAL '2 days', end_offset => INTERVAL '5 minutes', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('segment_state_15m', start_offset => INTERVAL '7 days', end_offset => INTERVAL '15 minutes', schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('segment_state_1h', start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
ALTER TABLE segment_state SET (timescaledb.compress, timescaledb.compress_segmentby = 'segment_id', timescaledb.compress_orderby = 'minute DESC');
ALTER TABLE detector_reading SET (timescaledb.compress, timescaledb.compress_segmentby = 'detector_id', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE probe_observation SET (timescaledb.compress, timescaledb.compress_segmentby = 'segment_id', timescaledb.compress_orderby = 'minute DESC');
SELECT add_compression_policy('segment_state', INTERVAL '7 days');
SELECT add_compression_policy('detector_reading', INTERVAL '7 days');
SELECT add_compression_policy('probe_observation', INTERVAL '2 days');
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention) VALUES ('gps_fix', 'ts', '1 day', '3 days'), ('probe_observation', 'minute', '1 day', '14 days'), ('detector_reading', 'ts', '1 day', '180 days'), ('segment_state', 'minute', '1 day', '90 days'), ('network_kpi', 'minute', '30 days', '5 years'), ('segment_state_5m', 'bucket', '7 days', '1 year'), ('segment_state_15m', 'bucket', '30 days', '2 years'), ('segment_state_1h', 'bucket', '90 days', '5 years');
SELECT add_retention_policy(table_name::regclass, retention) FROM ts_table WHERE retention IS NOT NULL;
