-- The guest attribute outbox shared by the replicas of a service (genesys_cloud::guests,
-- GuestAttributesBuilder::postgres_outbox). docs/guests.md ("One replica, or many") says
-- why each column is there.

-- One row per guest session with updates in the outbox. `next_seq` numbers the session's
-- updates: every `add` increments it while holding this row's lock, so a session's
-- updates are numbered in commit order. `delivered_seq`: the session's updates up to it
-- were delivered, given up or handed back, and are never sent again (rows of those still
-- here wait for their CRM sync). The claim: the replica (`holder`) that alone sends the
-- session's updates until `claim_expires_at`; `claim` (from the sequence below) changes
-- at every change of claim.
CREATE TABLE {prefix}guest_sessions (
    session_id TEXT PRIMARY KEY,
    next_seq BIGINT NOT NULL DEFAULT 1,
    delivered_seq BIGINT NOT NULL DEFAULT 0,
    holder TEXT,
    claim BIGINT NOT NULL,
    claim_expires_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX {prefix}guest_sessions_expiry ON {prefix}guest_sessions (claim_expires_at);
CREATE INDEX {prefix}guest_sessions_holder ON {prefix}guest_sessions (holder)
    WHERE holder IS NOT NULL;
CREATE SEQUENCE {prefix}guest_claims;

-- Every accepted update until it leaves: `pending` until delivered (and synced to the CRM),
-- then deleted; `stale` when a replica taking the session over found it older than the
-- staleness limit (handed back at start, deleted once acknowledged); `dead` when it was
-- given up (`reason`, `attempts`, the error's kind; deleted after the retention).
CREATE TABLE {prefix}guest_updates (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    attributes JSONB NOT NULL,
    consents JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stale', 'dead')),
    attempts INT NOT NULL DEFAULT 0,
    reason TEXT,
    error_kind TEXT,
    done_at TIMESTAMPTZ
);
CREATE INDEX {prefix}guest_updates_pending ON {prefix}guest_updates (session_id, seq)
    WHERE state = 'pending';
CREATE INDEX {prefix}guest_updates_stale ON {prefix}guest_updates (id) WHERE state = 'stale';
CREATE INDEX {prefix}guest_updates_dead ON {prefix}guest_updates (done_at) WHERE state = 'dead';

-- `instance`: a random id made with the tables, naming this outbox in CRM dedupe keys.
CREATE TABLE {prefix}guest_outbox_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO {prefix}guest_outbox_meta (key, value)
    VALUES ('instance', md5(random()::text || clock_timestamp()::text));
