-- Tamper-evident audit trail: audit_events become a hash chain. Each row
-- carries its position (seq), the hash of the row before it (prev_hash) and
-- its own hash: sha256 of prev_hash, a newline and the row's canonical
-- content (app/audit/chain.go defines it). audit_chain is the chain's head
-- (one row): the last seq and hash, and the row every writer locks, so the
-- chain stays one line under concurrent writers.
ALTER TABLE audit_events ADD COLUMN seq BIGINT NULL;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NULL;
ALTER TABLE audit_events ADD COLUMN hash TEXT NULL;
CREATE UNIQUE INDEX uq_audit_events_seq ON audit_events (seq);

CREATE TABLE audit_chain (
    id         INTEGER NOT NULL,
    seq        BIGINT NOT NULL DEFAULT 0,
    hash       TEXT NOT NULL DEFAULT '',
    updated_at TEXT NULL,
    CONSTRAINT pk_audit_chain PRIMARY KEY (id),
    CONSTRAINT ck_audit_chain_single_row CHECK (id = 1),
    CONSTRAINT ck_audit_chain_seq_not_negative CHECK (seq >= 0)
);

-- Events written before this migration are numbered in (at, id) order; the
-- application hashes them once at its next start (audit.Seal), which an
-- empty head hash asks for.
UPDATE audit_events a SET seq = o.n
    FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY at, id) AS n FROM audit_events) o
    WHERE o.id = a.id;

-- seed:begin
INSERT INTO audit_chain (id, seq, hash)
    SELECT 1, COUNT(*), CASE WHEN COUNT(*) = 0 THEN '0000000000000000000000000000000000000000000000000000000000000000' ELSE '' END
    FROM audit_events WHERE TRUE
    ON CONFLICT (id) DO NOTHING;
-- seed:end
