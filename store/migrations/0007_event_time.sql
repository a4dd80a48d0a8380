-- Event time of the workers' stored progress (what the incident worker waits for).
--
-- consumer_checkpoint.watermark: the newest event time (fix time, reading interval end) among
-- the messages the stored checkpoint covers, written in the same transaction as the results.
-- probe_traversal.known_at: the partition's watermark, rounded up to the worker's 15-second
-- grid, when the probe worker produced the traversal (a traversal is known only once the
-- vehicle's later fixes decided it). NULL on rows written before this version or by other
-- tools: they count as known.
ALTER TABLE consumer_checkpoint ADD COLUMN watermark timestamptz;
ALTER TABLE probe_traversal ADD COLUMN known_at timestamptz;
