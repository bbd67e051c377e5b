-- Heartbeats: the process doing a run or holding a job renews them, so any
-- live node can tell a run whose process died (heartbeat stale: marked
-- `interrupted`) from one still going in another process.
ALTER TABLE runs ADD COLUMN heartbeat_at BIGINT;
-- Runs left `running` by an older rexist count from their start.
UPDATE runs SET heartbeat_at = started_at WHERE outcome = 'running';
-- The sweep reads only running runs.
CREATE INDEX runs_running ON runs(heartbeat_at) WHERE outcome = 'running';
ALTER TABLE jobs ADD COLUMN heartbeat_at BIGINT;
