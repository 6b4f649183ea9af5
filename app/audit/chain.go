package audit

// The hash chain. Every audit event has a position (seq, 1, 2, 3, … with no
// gaps), the hash of the event before it (prev_hash; the first event's is
// Genesis) and its own hash:
//
//	hash = hex(sha256(prev_hash + "\n" + canonical(event)))
//
// canonical(event) is the JSON array
//
//	[seq, id, at, actor_user_id|null, actor_label, action, object_type,
//	 object_id, details, ip, request_id]
//
// with details re-encoded canonically (keys sorted, no HTML escaping,
// integers as written, other numbers in Go's shortest 'g' form), so the
// hash is the same whether the details come back from SQLite's TEXT or
// PostgreSQL's JSONB. Anyone can recompute it from an export of the table.
//
// The head (audit_chain, one row) holds the last seq and hash. A writer
// first bumps the head's seq — an UPDATE, which takes the row's lock on
// PostgreSQL until the transaction ends (SQLite's write transactions are
// exclusive anyway) — then reads it, so concurrent writers queue and the
// chain stays one line; the unique index on seq makes a fork impossible to
// commit. Changing a row, deleting one, inserting one without the chain or
// cutting the end off are all found by Verify; rewriting the whole chain
// from some row on is found against an exported Anchor.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// Genesis is the prev_hash of the first event.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// chainColumns are the columns of a chained row.
var chainColumns = append(append([]string(nil), columns...), "seq", "prev_hash", "hash")

// appendRows chains rows after the current head and inserts them, in b's
// transaction (or one of its own when b is a pool).
func appendRows(ctx context.Context, b dbx.Builder, rows []dbx.Params) error {
	switch x := b.(type) {
	case *dbx.Tx:
		return appendTx(ctx, x, rows)
	case *dbx.DB:
		return x.TransactionalContext(ctx, nil, func(tx *dbx.Tx) error { return appendTx(ctx, tx, rows) })
	}
	return fmt.Errorf("audit: cannot write through %T", b)
}

func appendTx(ctx context.Context, tx *dbx.Tx, rows []dbx.Params) error {
	n := int64(len(rows))
	head, err := lockHead(ctx, tx, n)
	if err != nil {
		return err
	}
	first := head.Seq - n + 1
	prev := head.Hash
	if prev == "" { // events from before the chain: hash them first
		if prev, err = sealTx(ctx, tx, first-1); err != nil {
			return err
		}
	}
	out := make([][]any, len(rows))
	for i, p := range rows {
		r, err := rowFromParams(p)
		if err != nil {
			return err
		}
		r.Seq = first + int64(i)
		h, err := r.hash(prev)
		if err != nil {
			return err
		}
		p["seq"], p["prev_hash"], p["hash"] = r.Seq, prev, h
		prev = h
		row := make([]any, len(chainColumns))
		for j, c := range chainColumns {
			row[j] = p[c]
		}
		out[i] = row
	}
	if err := db.InsertRows(ctx, tx, "audit_events", chainColumns, out); err != nil {
		return err
	}
	_, err = tx.NewQuery("UPDATE audit_chain SET hash = {:h}, updated_at = {:at} WHERE id = 1").
		Bind(dbx.Params{"h": prev, "at": rows[len(rows)-1]["at"]}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("audit: move chain head: %w", err)
	}
	return nil
}

// Head is the chain's last position and hash.
type Head struct {
	Seq  int64  `db:"seq" json:"seq"`
	Hash string `db:"hash" json:"hash"`
}

// lockHead reserves n positions: it bumps the head's seq (locking the row
// until the transaction ends) and returns the new head, whose Seq is the
// last reserved position and Hash still the previous last hash.
func lockHead(ctx context.Context, tx *dbx.Tx, n int64) (Head, error) {
	res, err := tx.NewQuery("UPDATE audit_chain SET seq = seq + {:n} WHERE id = 1").
		Bind(dbx.Params{"n": n}).WithContext(ctx).Execute()
	if err != nil {
		return Head{}, fmt.Errorf("audit: lock chain head: %w", err)
	}
	if k, err := res.RowsAffected(); err == nil && k != 1 {
		return Head{}, errors.New("audit: the chain head row (audit_chain id 1) is missing")
	}
	var h Head
	if err := tx.NewQuery("SELECT seq, hash FROM audit_chain WHERE id = 1").WithContext(ctx).One(&h); err != nil {
		return Head{}, fmt.Errorf("audit: read chain head: %w", err)
	}
	return h, nil
}

// chainRow is an audit_events row as the chain sees it: every column as
// stored, text as text.
type chainRow struct {
	Seq         int64   `db:"seq"`
	ID          string  `db:"id"`
	At          string  `db:"at"`
	ActorUserID *string `db:"actor_user_id"`
	ActorLabel  string  `db:"actor_label"`
	Action      string  `db:"action"`
	ObjectType  string  `db:"object_type"`
	ObjectID    string  `db:"object_id"`
	Details     string  `db:"details"`
	IP          string  `db:"ip"`
	RequestID   string  `db:"request_id"`
	PrevHash    *string `db:"prev_hash"`
	Hash        *string `db:"hash"`
}

var readColumns = []string{"seq", "id", "at", "actor_user_id", "actor_label", "action", "object_type", "object_id",
	"details", "ip", "request_id", "prev_hash", "hash"}

func rowFromParams(p dbx.Params) (chainRow, error) {
	at, ok := p["at"].(db.Time)
	if !ok {
		return chainRow{}, fmt.Errorf("audit: event time is %T", p["at"])
	}
	r := chainRow{ID: p["id"].(string), At: at.String(), ActorLabel: p["actor_label"].(string), Action: p["action"].(string),
		ObjectType: p["object_type"].(string), ObjectID: p["object_id"].(string), Details: p["details"].(string),
		IP: p["ip"].(string), RequestID: p["request_id"].(string)}
	if a, ok := p["actor_user_id"].(string); ok {
		r.ActorUserID = &a
	}
	return r, nil
}

// hash is the row's link: sha256 of prev, a newline and the canonical
// content.
func (r chainRow) hash(prev string) (string, error) {
	c, err := r.canonical()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (r chainRow) canonical() ([]byte, error) {
	details, err := canonicalJSON(r.Details)
	if err != nil {
		return nil, fmt.Errorf("audit: event %s details: %w", r.ID, err)
	}
	var actor any
	if r.ActorUserID != nil {
		actor = *r.ActorUserID
	}
	return marshal([]any{r.Seq, r.ID, r.At, actor, r.ActorLabel, r.Action, r.ObjectType, r.ObjectID,
		json.RawMessage(details), r.IP, r.RequestID})
}

// canonicalJSON re-encodes a JSON text with sorted keys and normalised
// numbers, so SQLite's stored text and PostgreSQL's JSONB agree.
func canonicalJSON(s string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return marshal(normalize(v))
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return v
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// sealTx hashes the events numbered before the chain existed (seq 1 to
// upto, prev_hash still NULL) and returns the last hash.
func sealTx(ctx context.Context, tx *dbx.Tx, upto int64) (string, error) {
	prev := Genesis
	var after int64
	for after < upto {
		var rows []chainRow
		err := tx.Select(readColumns...).From("audit_events").
			Where(dbx.NewExp("seq > {:a} AND seq <= {:u}", dbx.Params{"a": after, "u": upto})).
			OrderBy("seq").Limit(1000).WithContext(ctx).All(&rows)
		if err != nil {
			return "", fmt.Errorf("audit: seal: %w", err)
		}
		if len(rows) == 0 {
			return "", fmt.Errorf("audit: seal: events %d to %d are missing", after+1, upto)
		}
		for _, r := range rows {
			if r.Seq != after+1 {
				return "", fmt.Errorf("audit: seal: event %d is missing", after+1)
			}
			h, err := r.hash(prev)
			if err != nil {
				return "", err
			}
			if _, err := tx.Update("audit_events", dbx.Params{"prev_hash": prev, "hash": h},
				dbx.HashExp{"id": r.ID}).WithContext(ctx).Execute(); err != nil {
				return "", fmt.Errorf("audit: seal: %w", err)
			}
			prev, after = h, r.Seq
		}
	}
	if _, err := tx.NewQuery("UPDATE audit_chain SET hash = {:h} WHERE id = 1").
		Bind(dbx.Params{"h": prev}).WithContext(ctx).Execute(); err != nil {
		return "", fmt.Errorf("audit: seal: %w", err)
	}
	return prev, nil
}

// Seal hashes the events written before the chain existed, once (the first
// write would do it too; serve calls it at start so that write stays fast).
// It reports how many events it sealed.
func Seal(ctx context.Context, d *db.DB) (int64, error) {
	var sealed int64
	err := d.Tx(ctx, func(tx *dbx.Tx) error {
		h, err := lockHead(ctx, tx, 0)
		if err != nil || h.Hash != "" {
			return err
		}
		if _, err := sealTx(ctx, tx, h.Seq); err != nil {
			return err
		}
		sealed = h.Seq
		return nil
	})
	return sealed, err
}

// Break is where the chain stops holding.
type Break struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id"`
	At     string `json:"at"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// Anchor is the chain's head at one moment, exported to be kept elsewhere
// (printed, mailed, committed): later, Verify checks the chain still
// passes through it, which a rewrite of the whole table cannot fake.
type Anchor struct {
	Format     string `json:"format"`
	Seq        int64  `json:"seq"`
	Hash       string `json:"hash"`
	EventAt    string `json:"event_at"`    // time of the event at Seq
	Rows       int64  `json:"rows"`        // events in the chain up to Seq (= Seq)
	ExportedAt string `json:"exported_at"` // when the anchor was taken
}

// AnchorFormat names the anchor format.
const AnchorFormat = "purplebook-audit-anchor/1"

// AnchorResult says whether the chain passes through an anchor.
type AnchorResult struct {
	Seq     int64  `json:"seq"`
	Hash    string `json:"hash"`
	Matches bool   `json:"matches"`
	Reason  string `json:"reason,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	Intact    bool          `json:"intact"`
	Rows      int64         `json:"rows"` // events checked along the chain
	Head      Head          `json:"head"`
	CheckedAt db.Time       `json:"checked_at"`
	Break     *Break        `json:"first_break"`
	Unchained int64         `json:"unchained"` // events outside the chain
	Anchor    *AnchorResult `json:"anchor,omitempty"`
}

// Verify walks the chain from the first event to the head and reports
// "intact" or the first event where it breaks: a changed event (its hash
// no longer matches its content), a removed one (a gap in seq, or an end
// before the head), one inserted outside the chain (no hash), or a head
// that does not match the last event. With an anchor it also checks that
// the event at the anchor's seq still has the anchor's hash. Events written
// while it runs are not looked at: it checks the chain up to the head it
// read first.
func Verify(ctx context.Context, d *db.DB, now time.Time, anchor *Anchor) (Report, error) {
	rep := Report{CheckedAt: db.NewTime(now)}
	if err := d.Read.Select("seq", "hash").From("audit_chain").Where(dbx.HashExp{"id": 1}).WithContext(ctx).One(&rep.Head); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			rep.Break = &Break{Reason: "the chain head (audit_chain) is missing"}
			return rep, nil
		}
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	if rep.Head.Hash == "" && rep.Head.Seq > 0 {
		rep.Break = &Break{Reason: "the events written before the chain existed are not sealed yet (purplebook audit verify seals them)"}
		return rep, nil
	}
	var anchorRow *chainRow
	prev, expect := Genesis, int64(1)
	for rep.Break == nil && expect <= rep.Head.Seq {
		var rows []chainRow
		err := d.Read.Select(readColumns...).From("audit_events").
			Where(dbx.NewExp("seq >= {:a} AND seq <= {:h}", dbx.Params{"a": expect, "h": rep.Head.Seq})).
			OrderBy("seq").Limit(2000).WithContext(ctx).All(&rows)
		if err != nil {
			return rep, fmt.Errorf("audit: verify: %w", err)
		}
		if len(rows) == 0 {
			rep.Break = &Break{Seq: expect, Reason: fmt.Sprintf(
				"the chain ends at event %d but its head says %d: the events after it were removed", expect-1, rep.Head.Seq)}
			break
		}
		for _, r := range rows {
			if b := checkRow(r, expect, prev); b != nil {
				rep.Break = b
				break
			}
			if anchor != nil && r.Seq == anchor.Seq {
				anchorRow = &r
			}
			prev, expect = *r.Hash, expect+1
			rep.Rows++
		}
	}
	if rep.Break == nil && prev != rep.Head.Hash {
		rep.Break = &Break{Seq: rep.Head.Seq, Reason: "the chain head's hash does not match the last event's: the head or the last event was changed"}
	}
	var loose []chainRow
	if err := d.Read.NewQuery(`SELECT COALESCE(seq, 0) AS seq, id, at, actor_user_id, actor_label, action, object_type,
		object_id, details, ip, request_id, prev_hash, hash FROM audit_events
		WHERE seq IS NULL OR hash IS NULL OR prev_hash IS NULL ORDER BY at, id`).
		WithContext(ctx).All(&loose); err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	rep.Unchained = int64(len(loose))
	if rep.Break == nil && len(loose) > 0 {
		r := loose[0]
		rep.Break = &Break{Seq: r.Seq, ID: r.ID, At: r.At, Action: r.Action,
			Reason: fmt.Sprintf("%d event(s) are outside the chain (no hash): written behind the application's back", len(loose))}
	}
	if anchor != nil {
		rep.Anchor = checkAnchor(*anchor, anchorRow, rep)
	}
	rep.Intact = rep.Break == nil && (rep.Anchor == nil || rep.Anchor.Matches)
	return rep, nil
}

// checkRow checks one event against its expected position and the hash
// before it.
func checkRow(r chainRow, expect int64, prev string) *Break {
	b := &Break{Seq: r.Seq, ID: r.ID, At: r.At, Action: r.Action}
	switch {
	case r.Seq != expect:
		b.Seq = expect
		b.Reason = fmt.Sprintf("event %d is missing (removed): the chain jumps from %d to %d", expect, expect-1, r.Seq)
		if r.Seq > expect+1 {
			b.Reason = fmt.Sprintf("events %d to %d are missing (removed): the chain jumps from %d to %d", expect, r.Seq-1, expect-1, r.Seq)
		}
	case r.Hash == nil || r.PrevHash == nil:
		b.Reason = "the event has no hash: it was written behind the application's back"
	case *r.PrevHash != prev:
		b.Reason = "the event's prev_hash does not match the hash of the event before it: that event was changed or replaced"
	default:
		h, err := r.hash(prev)
		if err != nil {
			b.Reason = "the event's details are not valid JSON: it was changed after it was written"
		} else if h != *r.Hash {
			b.Reason = "the event's content does not match its hash: it was changed after it was written"
		} else {
			return nil
		}
	}
	return b
}

func checkAnchor(a Anchor, row *chainRow, rep Report) *AnchorResult {
	res := &AnchorResult{Seq: a.Seq, Hash: a.Hash}
	switch {
	case a.Format != AnchorFormat || a.Seq < 0 || (a.Seq > 0 && len(a.Hash) != 64):
		res.Reason = "this is not a Purplebook audit anchor (" + AnchorFormat + ")"
	case a.Seq == 0:
		res.Matches = a.Hash == Genesis
		if !res.Matches {
			res.Reason = "an anchor at event 0 must carry the genesis hash"
		}
	case a.Seq > rep.Head.Seq:
		res.Reason = fmt.Sprintf("the chain has %d events, fewer than the %d the anchor saw: events were removed", rep.Head.Seq, a.Seq)
	case row == nil && rep.Break != nil && rep.Break.Seq <= a.Seq:
		res.Reason = fmt.Sprintf("the chain breaks at event %d, before the anchor's event %d", rep.Break.Seq, a.Seq)
	case row == nil:
		res.Reason = fmt.Sprintf("event %d was not reached", a.Seq)
	case row.Hash == nil || *row.Hash != a.Hash:
		res.Reason = fmt.Sprintf("event %d has another hash than the anchor's: the log was rewritten up to there", a.Seq)
	default:
		res.Matches = true
	}
	return res
}

// ExportAnchor returns the current head as an anchor.
func ExportAnchor(ctx context.Context, d *db.DB, now time.Time) (Anchor, error) {
	a := Anchor{Format: AnchorFormat, ExportedAt: db.NewTime(now).String()}
	var h Head
	if err := d.Read.Select("seq", "hash").From("audit_chain").Where(dbx.HashExp{"id": 1}).WithContext(ctx).One(&h); err != nil {
		return a, fmt.Errorf("audit: anchor: %w", err)
	}
	if h.Hash == "" && h.Seq > 0 {
		return a, errors.New("audit: anchor: the events written before the chain existed are not sealed yet")
	}
	a.Seq, a.Hash, a.Rows = h.Seq, h.Hash, h.Seq
	if h.Seq > 0 {
		if err := d.Read.Select("at").From("audit_events").Where(dbx.HashExp{"seq": h.Seq}).WithContext(ctx).Row(&a.EventAt); err != nil {
			return a, fmt.Errorf("audit: anchor: event %d: %w", h.Seq, err)
		}
	}
	return a, nil
}
