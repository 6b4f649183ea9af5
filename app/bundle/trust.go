package bundle

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

// SettingTrustedKeys is the settings row holding the trusted keys: a JSON
// array of TrustedKey. It belongs to this package (the settings API does
// not expose it); /api/v1/bundles/trusted-keys manages it.
const SettingTrustedKeys = "bundle_trusted_keys"

// MaxTrustedKeys bounds the list.
const MaxTrustedKeys = 200

// TrustedKey is a public key whose bundles import without the "untrusted"
// confirmation.
type TrustedKey struct {
	Fingerprint string  `json:"fingerprint"`
	PublicKey   string  `json:"public_key"`
	Label       string  `json:"label"` // who holds the key, usually the instance name
	InstanceID  string  `json:"instance_id,omitempty"`
	AddedAt     db.Time `json:"added_at"`
	AddedBy     string  `json:"added_by"` // the actor's label
}

// TrustedKeys reads the list.
func TrustedKeys(ctx context.Context, b dbx.Builder) ([]TrustedKey, error) {
	var raw string
	err := b.Select("value").From("settings").Where(dbx.HashExp{"key": SettingTrustedKeys}).WithContext(ctx).Row(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return []TrustedKey{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bundle: read trusted keys: %w", err)
	}
	out := []TrustedKey{}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("bundle: trusted keys setting is damaged: %w", err)
	}
	return out, nil
}

func writeTrustedKeys(ctx context.Context, tx *dbx.Tx, keys []TrustedKey, now db.Time) error {
	_, err := tx.NewQuery(`INSERT INTO settings (key, value, updated_by, updated_at) VALUES ({:key}, {:value}, NULL, {:at})
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`).
		Bind(dbx.Params{"key": SettingTrustedKeys, "value": string(db.MustJSON(keys)), "at": now}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("bundle: write trusted keys: %w", err)
	}
	return nil
}

// IsTrusted reports whether pub is this instance's own key or on the list.
func IsTrusted(ctx context.Context, b dbx.Builder, self *Identity, fingerprint string) (bool, error) {
	if self != nil && fingerprint == self.Fingerprint() {
		return true, nil
	}
	keys, err := TrustedKeys(ctx, b)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k.Fingerprint == fingerprint {
			return true, nil
		}
	}
	return false, nil
}

// AddTrustedKey puts a key on the list inside tx; adding a listed key again
// updates its label. It returns the entry and whether the list changed.
func AddTrustedKey(ctx context.Context, tx *dbx.Tx, publicKey, label, instanceID, addedBy string, now db.Time) (TrustedKey, bool, error) {
	pub, err := ParsePublicKey(publicKey)
	if err != nil {
		return TrustedKey{}, false, &apperr.Invalid{Fields: map[string]string{"public_key": err.Error()}}
	}
	label = strings.TrimSpace(label)
	if utf8.RuneCountInString(label) > MaxInstanceName || strings.ContainsFunc(label, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return TrustedKey{}, false, &apperr.Invalid{Fields: map[string]string{"label": fmt.Sprintf("must be text of at most %d characters", MaxInstanceName)}}
	}
	if instanceID != "" && !db.ValidID(instanceID) {
		instanceID = ""
	}
	keys, err := TrustedKeys(ctx, tx)
	if err != nil {
		return TrustedKey{}, false, err
	}
	k := TrustedKey{Fingerprint: Fingerprint(pub), PublicKey: EncodePublicKey(pub), Label: label, InstanceID: instanceID,
		AddedAt: now, AddedBy: addedBy}
	for i, have := range keys {
		if have.Fingerprint == k.Fingerprint {
			if have.Label == label || label == "" {
				return have, false, nil
			}
			keys[i].Label = label
			return keys[i], true, writeTrustedKeys(ctx, tx, keys, now)
		}
	}
	if len(keys) >= MaxTrustedKeys {
		return TrustedKey{}, false, apperr.New(apperr.ErrConflict, "too_many_trusted_keys", "At most %d keys can be trusted; remove one first.", MaxTrustedKeys)
	}
	keys = append(keys, k)
	return k, true, writeTrustedKeys(ctx, tx, keys, now)
}

// RemoveTrustedKey takes the key with this fingerprint off the list.
func RemoveTrustedKey(ctx context.Context, tx *dbx.Tx, fingerprint string, now db.Time) (TrustedKey, error) {
	keys, err := TrustedKeys(ctx, tx)
	if err != nil {
		return TrustedKey{}, err
	}
	for i, k := range keys {
		if k.Fingerprint == fingerprint {
			keys = append(keys[:i], keys[i+1:]...)
			return k, writeTrustedKeys(ctx, tx, keys, now)
		}
	}
	return TrustedKey{}, apperr.New(apperr.ErrNotFound, "not_found", "No trusted key has this fingerprint.")
}

// SourceInfo is who made a bundle, as an importer shows it: "signed by
// <instance name>, key fingerprint …", and whether that key is trusted.
type SourceInfo struct {
	InstanceID   string `json:"instance_id"`
	InstanceName string `json:"instance_name"`
	AppVersion   string `json:"app_version"`
	CreatedAt    string `json:"created_at"`
	Fingerprint  string `json:"fingerprint"`
	PublicKey    string `json:"public_key"`
	Trusted      bool   `json:"trusted"`
	Own          bool   `json:"own"` // signed by this instance's own key
}

// Describe reports the source of an opened (hence signature-checked)
// bundle and whether its key is trusted here.
func Describe(ctx context.Context, b dbx.Builder, r *Reader, self *Identity) (SourceInfo, error) {
	m := r.Manifest()
	fp := r.Fingerprint()
	trusted, err := IsTrusted(ctx, b, self, fp)
	if err != nil {
		return SourceInfo{}, err
	}
	return SourceInfo{InstanceID: m.Source.InstanceID, InstanceName: m.Source.InstanceName, AppVersion: m.AppVersion,
		CreatedAt: m.CreatedAt, Fingerprint: fp, PublicKey: m.Source.PublicKey, Trusted: trusted,
		Own: self != nil && fp == self.Fingerprint()}, nil
}
