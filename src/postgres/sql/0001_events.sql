-- The event stream of a service of many replicas (genesys_cloud::fleet).

-- Who owns each stream: the replica whose lease has not expired. `epoch` grows at every
-- change of owner and fences a deposed owner's writes.
CREATE TABLE {prefix}stream_leases (
    stream TEXT PRIMARY KEY,
    owner TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    acquired_at TIMESTAMPTZ
);

-- Every event the owner received live or found by reconciliation, once per stable id; a
-- work queue for the replicas (`state`, `visible_at`, `attempts`).
CREATE TABLE {prefix}stream_events (
    seq BIGSERIAL PRIMARY KEY,
    stream TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- Events with one key are handled one at a time, in order (a callback's conversation).
    event_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    topic TEXT,
    body TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    epoch BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INT NOT NULL DEFAULT 0,
    visible_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    claimed_by TEXT,
    last_error TEXT,
    done_at TIMESTAMPTZ,
    UNIQUE (stream, event_id)
);
CREATE INDEX {prefix}stream_events_due
    ON {prefix}stream_events (stream, visible_at) WHERE state = 'pending';
CREATE INDEX {prefix}stream_events_key
    ON {prefix}stream_events (stream, event_key, seq) WHERE state = 'pending';
CREATE INDEX {prefix}stream_events_done
    ON {prefix}stream_events (stream, done_at) WHERE state = 'done';

-- Where each broadcast reader is.
CREATE TABLE {prefix}stream_cursors (
    stream TEXT NOT NULL,
    reader TEXT NOT NULL,
    seq BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, reader)
);
