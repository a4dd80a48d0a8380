-- Raw GPS fixes are not kept in the database (nothing ever wrote this table): the Kafka topic
-- gps.fixes.v1 keeps the raw feed for its retention (7 days), and the store keeps what is
-- derived from it (probe_traversal, probe_presence, segment_state). See docs/STORE.md.
DROP TABLE IF EXISTS gps_fix;
DELETE FROM ts_table WHERE table_name = 'gps_fix';
