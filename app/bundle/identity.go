package bundle

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

// KeyFile is the name of the instance's private signing key in the data
// directory (PKCS #8 PEM, mode 0600).
const KeyFile = "instance.key"

// MaxInstanceName bounds the instance's display name, in characters.
const MaxInstanceName = 100

// Identity is this instance as bundles name it: a stable id, a display name
// and the ed25519 key pair that signs its bundles. The id, name and public
// key live in the bundle_instance row; the private key only in the data
// directory, so a copy of the database (a backup, a move to PostgreSQL)
// cannot sign as this instance. When the database's public key and the key
// file disagree (the database was restored elsewhere, or the key file
// lost), the key file wins and the row is updated: the id stays, so merges
// with peers continue, while peers see a new fingerprint to trust.
type Identity struct {
	id  string
	key ed25519.PrivateKey

	mu   sync.RWMutex
	name string
}

// NewIdentity builds an identity from its parts (tests, tools).
func NewIdentity(id, name string, key ed25519.PrivateKey) *Identity {
	return &Identity{id: id, name: name, key: key}
}

// ID is the instance id.
func (i *Identity) ID() string { return i.id }

// Name is the instance's display name.
func (i *Identity) Name() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.name
}

// Public is the instance's public key.
func (i *Identity) Public() ed25519.PublicKey { return i.key.Public().(ed25519.PublicKey) }

// Fingerprint is the public key's fingerprint.
func (i *Identity) Fingerprint() string { return Fingerprint(i.Public()) }

// Sign signs msg with the instance key.
func (i *Identity) Sign(msg []byte) []byte { return ed25519.Sign(i.key, msg) }

func encodeSig(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }

// LoadKey reads the private key at path, creating a new one (mode 0600)
// when there is none. A damaged key file is an error that says what to do.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("bundle: %s is not a PEM private key: move it away to make a new one (peers will have to trust the new key)", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bundle: %s is damaged (%v): move it away to make a new one (peers will have to trust the new key)", path, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("bundle: %s is not an ed25519 key", path)
		}
		return ek, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bundle: read %s: %w", path, err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bundle: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("bundle: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// Write a complete temporary file, then link it to the final name: a
	// crash never leaves a half-written key, and of two processes starting
	// at once exactly one key wins (the other reads it).
	tmp, err := os.CreateTemp(filepath.Dir(path), ".instance-key-*")
	if err != nil {
		return nil, fmt.Errorf("bundle: create key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && !isWindows() {
		tmp.Close()
		return nil, fmt.Errorf("bundle: create key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("bundle: write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("bundle: write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("bundle: write key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadKey(path)
		}
		return nil, fmt.Errorf("bundle: store key: %w", err)
	}
	return key, nil
}

func isWindows() bool { return os.PathSeparator == '\\' }

type instanceRow struct {
	ID        string `db:"id"`
	Name      string `db:"name"`
	PublicKey string `db:"public_key"`
	SyncSeq   int64  `db:"sync_seq"`
}

// DefaultName is the name a new instance gets: the host name.
func DefaultName() string {
	h, err := os.Hostname()
	h = strings.TrimSpace(h)
	if err != nil || h == "" {
		return "Purplebook"
	}
	if utf8.RuneCountInString(h) > MaxInstanceName {
		h = string([]rune(h)[:MaxInstanceName])
	}
	return h
}

// LoadIdentity returns the instance identity of the database d with the key
// in dataDir, creating whichever is missing.
func LoadIdentity(ctx context.Context, d *db.DB, dataDir string, now func() time.Time) (*Identity, error) {
	key, err := LoadKey(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	pub := EncodePublicKey(key.Public().(ed25519.PublicKey))
	var out *Identity
	err = d.Tx(ctx, func(tx *dbx.Tx) error {
		var r instanceRow
		err := tx.Select("id", "name", "public_key", "sync_seq").From("bundle_instance").WithContext(ctx).One(&r)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			r = instanceRow{ID: db.NewID(), Name: DefaultName(), PublicKey: pub}
			ts := db.NewTime(now())
			if _, err := tx.Insert("bundle_instance", dbx.Params{"id": r.ID, "singleton": true, "name": r.Name,
				"public_key": r.PublicKey, "sync_seq": 0, "created_at": ts, "updated_at": ts}).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("bundle: create instance identity: %w", err)
			}
			slog.Info("instance_identity_created", "instance_id", r.ID, "name", r.Name, "fingerprint", Fingerprint(key.Public().(ed25519.PublicKey)))
		case err != nil:
			return fmt.Errorf("bundle: read instance identity: %w", err)
		case r.PublicKey != pub:
			old := r.PublicKey
			if k, err := ParsePublicKey(old); err == nil {
				old = Fingerprint(k)
			}
			slog.Warn("instance_key_changed", "instance_id", r.ID, "old_fingerprint", old,
				"new_fingerprint", Fingerprint(key.Public().(ed25519.PublicKey)),
				"hint", "the database was restored without its key file, or the key file was replaced; peers must trust the new key")
			if _, err := tx.Update("bundle_instance", dbx.Params{"public_key": pub, "updated_at": db.NewTime(now())},
				dbx.HashExp{"id": r.ID}).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("bundle: update instance key: %w", err)
			}
		}
		out = &Identity{id: r.ID, name: r.Name, key: key}
		return nil
	})
	return out, err
}

// ensureRow puts the identity row back if it is gone (a reset of the
// database deletes it); the in-memory identity is authoritative.
func (i *Identity) ensureRow(ctx context.Context, tx *dbx.Tx, now db.Time) error {
	_, err := tx.NewQuery(`INSERT INTO bundle_instance (id, singleton, name, public_key, sync_seq, created_at, updated_at)
		VALUES ({:id}, TRUE, {:name}, {:pk}, 0, {:now}, {:now}) ON CONFLICT DO NOTHING`).
		Bind(dbx.Params{"id": i.id, "name": i.Name(), "pk": EncodePublicKey(i.Public()), "now": now}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("bundle: instance identity: %w", err)
	}
	return nil
}

// NextSeq advances the instance's sync clock inside tx and returns the new
// value. Exports and imports are ordered by it; only its order on this
// instance matters.
func (i *Identity) NextSeq(ctx context.Context, tx *dbx.Tx, now db.Time) (int64, error) {
	if err := i.ensureRow(ctx, tx, now); err != nil {
		return 0, err
	}
	if _, err := tx.NewQuery(`UPDATE bundle_instance SET sync_seq = sync_seq + 1 WHERE singleton = TRUE`).
		WithContext(ctx).Execute(); err != nil {
		return 0, fmt.Errorf("bundle: advance sync clock: %w", err)
	}
	var r instanceRow
	if err := tx.Select("id", "name", "public_key", "sync_seq").From("bundle_instance").WithContext(ctx).One(&r); err != nil {
		return 0, fmt.Errorf("bundle: read sync clock: %w", err)
	}
	i.mu.Lock()
	i.name = r.Name // another process may have renamed the instance
	i.mu.Unlock()
	return r.SyncSeq, nil
}

// CheckName validates a display name; it returns the trimmed name.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", &apperr.Invalid{Fields: map[string]string{"name": "is required"}}
	case utf8.RuneCountInString(name) > MaxInstanceName:
		return "", &apperr.Invalid{Fields: map[string]string{"name": fmt.Sprintf("must be at most %d characters", MaxInstanceName)}}
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", &apperr.Invalid{Fields: map[string]string{"name": "must be text without control characters"}}
	}
	return name, nil
}

// Rename changes the display name inside tx (the caller audits it).
func (i *Identity) Rename(ctx context.Context, tx *dbx.Tx, name string, now db.Time) (string, error) {
	name, err := CheckName(name)
	if err != nil {
		return "", err
	}
	if err := i.ensureRow(ctx, tx, now); err != nil {
		return "", err
	}
	if _, err := tx.NewQuery(`UPDATE bundle_instance SET name = {:name}, updated_at = {:now} WHERE singleton = TRUE`).
		Bind(dbx.Params{"name": name, "now": now}).WithContext(ctx).Execute(); err != nil {
		return "", fmt.Errorf("bundle: rename instance: %w", err)
	}
	i.mu.Lock()
	i.name = name
	i.mu.Unlock()
	return name, nil
}
