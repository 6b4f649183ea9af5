package auth

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

// Instance settings an administrator can read and change (table settings,
// one JSON value per key). Other rows of the table (mitre_sync,
// instance_id, setup_completed_at) belong to the application and are not
// reachable through these methods.
const (
	SettingSecurityControls = "security_controls"
	SettingRequireMFA       = "require_mfa"
	SettingEvidenceMaxBytes = "evidence_max_bytes"
)

// Bounds of the settings.
const (
	maxSecurityControls     = 30
	maxSecurityControlLen   = 60
	minEvidenceMaxBytes     = 1 << 20 // 1 MiB
	maxEvidenceMaxBytes     = 8 << 30 // 8 GiB
	DefaultEvidenceMaxBytes = 512 << 20
)

// settingSpec is one known setting: its default and its validation, which
// returns the value to store (normalised) or a problem for the user.
type settingSpec struct {
	def   any
	parse func(raw json.RawMessage) (any, string)
}

var settingSpecs = map[string]settingSpec{
	SettingSecurityControls: {
		def:   []string{"EDR", "SIEM", "AV", "Firewall", "Mail gateway", "Web proxy", "DLP"},
		parse: parseSecurityControls,
	},
	SettingRequireMFA: {def: false, parse: parseRequireMFA},
	SettingEvidenceMaxBytes: {
		def:   int64(DefaultEvidenceMaxBytes),
		parse: parseEvidenceMaxBytes,
	},
}

// settingOrder is the order of SettingKeys and of the settings object.
var settingOrder = []string{SettingSecurityControls, SettingRequireMFA, SettingEvidenceMaxBytes}

// SettingKeys lists the settings the API exposes.
func SettingKeys() []string { return append([]string(nil), settingOrder...) }

func decodeSettingValue(raw json.RawMessage) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	return v, true
}

func parseSecurityControls(raw json.RawMessage) (any, string) {
	const shape = "must be an array of 1 to 30 distinct control names (text of 1 to 60 characters)"
	v, ok := decodeSettingValue(raw)
	arr, isArr := v.([]any)
	if !ok || !isArr || len(arr) < 1 || len(arr) > maxSecurityControls {
		return nil, shape
	}
	out := make([]string, 0, len(arr))
	seen := map[string]int{}
	for i, x := range arr {
		name, isStr := x.(string)
		name = strings.TrimSpace(name)
		switch {
		case !isStr:
			return nil, fmt.Sprintf("item %d must be text", i+1)
		case name == "":
			return nil, fmt.Sprintf("item %d is empty", i+1)
		case utf8.RuneCountInString(name) > maxSecurityControlLen:
			return nil, fmt.Sprintf("item %d is longer than %d characters", i+1, maxSecurityControlLen)
		case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return nil, fmt.Sprintf("item %d must not contain control characters", i+1)
		}
		if j, dup := seen[db.Fold(name)]; dup {
			return nil, fmt.Sprintf("items %d and %d are the same control (%q)", j+1, i+1, name)
		}
		seen[db.Fold(name)] = i
		out = append(out, name)
	}
	return out, ""
}

func parseRequireMFA(raw json.RawMessage) (any, string) {
	v, ok := decodeSettingValue(raw)
	b, isBool := v.(bool)
	if !ok || !isBool {
		return nil, "must be true or false"
	}
	return b, ""
}

func parseEvidenceMaxBytes(raw json.RawMessage) (any, string) {
	problem := fmt.Sprintf("must be a whole number of bytes from %d (1 MiB) to %d (8 GiB)", minEvidenceMaxBytes, int64(maxEvidenceMaxBytes))
	v, ok := decodeSettingValue(raw)
	num, isNum := v.(json.Number)
	if !ok || !isNum {
		return nil, problem
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil || n < minEvidenceMaxBytes || n > maxEvidenceMaxBytes {
		return nil, problem
	}
	return n, ""
}

// Setting is one setting as the API shows it. UpdatedAt and UpdatedBy are
// null while the default applies.
type Setting struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	IsDefault bool            `json:"is_default"`
	UpdatedAt *db.Time        `json:"updated_at"`
	UpdatedBy *string         `json:"updated_by"`
}

type settingRow struct {
	Key       string  `db:"key"`
	Value     db.JSON `db:"value"`
	UpdatedBy *string `db:"updated_by"`
	UpdatedAt db.Time `db:"updated_at"`
}

func errUnknownSetting(key string) error {
	return apperr.New(apperr.ErrNotFound, "setting_not_found", "There is no setting %q. Known settings: %s.",
		truncate(key, 64), strings.Join(settingOrder, ", "))
}

// readSetting returns the stored row and whether it exists.
func (s *Service) readSetting(ctx context.Context, b dbx.Builder, key string) (settingRow, bool, error) {
	var r settingRow
	err := b.Select("key", "value", "updated_by", "updated_at").From("settings").
		Where(dbx.HashExp{"key": key}).WithContext(ctx).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("auth: read setting %s: %w", key, err)
	}
	return r, true, nil
}

// settingValue returns the effective value of a known key: the stored one
// when it is valid, else the default.
func (s *Service) settingValue(ctx context.Context, b dbx.Builder, key string) (any, error) {
	spec := settingSpecs[key]
	r, ok, err := s.readSetting(ctx, b, key)
	if err != nil || !ok {
		return spec.def, err
	}
	v, problem := spec.parse(json.RawMessage(r.Value))
	if problem != "" {
		return nil, fmt.Errorf("auth: stored setting %s is invalid: %s", key, problem)
	}
	return v, nil
}

// Settings returns every exposed setting's effective value, keyed by name.
func (s *Service) Settings(ctx context.Context) (map[string]any, error) {
	out := make(map[string]any, len(settingOrder))
	for _, k := range settingOrder {
		v, err := s.settingValue(ctx, s.db.Read, k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// GetSetting returns one setting; unknown keys are not found.
func (s *Service) GetSetting(ctx context.Context, key string) (Setting, error) {
	return s.getSetting(ctx, s.db.Read, key)
}

func (s *Service) getSetting(ctx context.Context, b dbx.Builder, key string) (Setting, error) {
	if _, ok := settingSpecs[key]; !ok {
		return Setting{}, errUnknownSetting(key)
	}
	r, ok, err := s.readSetting(ctx, b, key)
	if err != nil {
		return Setting{}, err
	}
	v, err := s.settingValue(ctx, b, key)
	if err != nil {
		return Setting{}, err
	}
	out := Setting{Key: key, Value: json.RawMessage(db.MustJSON(v)), IsDefault: !ok}
	if ok {
		out.UpdatedAt, out.UpdatedBy = &r.UpdatedAt, r.UpdatedBy
	}
	return out, nil
}

// PutSetting validates and stores a setting's value on behalf of p (the
// route checks settings.manage). A value equal to the current one changes
// nothing. Turning on require_mfa needs MFA on the caller's own account, so
// an administrator cannot lock themselves into the enrolment screen by
// surprise.
func (s *Service) PutSetting(ctx context.Context, p *Principal, key string, raw json.RawMessage, m Meta) (Setting, error) {
	spec, ok := settingSpecs[key]
	if !ok {
		return Setting{}, errUnknownSetting(key)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return Setting{}, &apperr.Invalid{Fields: map[string]string{"value": "is required"}}
	}
	v, problem := spec.parse(raw)
	if problem != "" {
		return Setting{}, &apperr.Invalid{Fields: map[string]string{"value": problem}}
	}
	if key == SettingRequireMFA && v == true {
		u, err := s.getUser(ctx, s.db.Read, dbx.HashExp{"id": p.UserID})
		if err != nil {
			return Setting{}, errSessionEnded
		}
		if !u.MFAEnabled {
			return Setting{}, &apperr.Invalid{Message: "Turn on MFA for your own account before requiring it for everyone.",
				Fields: map[string]string{"value": "turn on MFA for your own account first (Profile → Two-factor authentication)"}}
		}
	}
	value := string(db.MustJSON(v))
	var out Setting
	var changed bool
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		before, err := s.settingValue(ctx, tx, key)
		if err != nil {
			return err
		}
		if string(db.MustJSON(before)) != value {
			changed = true
			now := s.nowTime()
			var by any
			if p.UserID != "" {
				by = p.UserID
			}
			_, err = tx.NewQuery(`INSERT INTO settings (key, value, updated_by, updated_at) VALUES ({:key}, {:value}, {:by}, {:at})
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`).
				Bind(dbx.Params{"key": key, "value": value, "by": by, "at": now}).WithContext(ctx).Execute()
			if err != nil {
				return fmt.Errorf("auth: write setting %s: %w", key, err)
			}
			if err := audit.Record(ctx, tx, now, p.Actor(m), audit.Event{Action: "settings.update", ObjectType: "setting", ObjectID: key,
				Details: map[string]any{"before": before, "after": v}}); err != nil {
				return err
			}
		}
		out, err = s.getSetting(ctx, tx, key)
		return err
	})
	if err != nil {
		return Setting{}, err
	}
	if changed && key == SettingRequireMFA {
		s.Invalidate() // every principal re-reads whether it must enrol
	}
	return out, nil
}

// RequireMFA reports whether every account must use MFA.
func (s *Service) RequireMFA(ctx context.Context) (bool, error) {
	v, err := s.settingValue(ctx, s.db.Read, SettingRequireMFA)
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// EvidenceMaxBytes is the largest evidence upload the instance accepts.
func (s *Service) EvidenceMaxBytes(ctx context.Context) (int64, error) {
	v, err := s.settingValue(ctx, s.db.Read, SettingEvidenceMaxBytes)
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// SecurityControls is the configured list of security controls (EDR, SIEM…)
// that mission tests are assessed against.
func (s *Service) SecurityControls(ctx context.Context) ([]string, error) {
	v, err := s.settingValue(ctx, s.db.Read, SettingSecurityControls)
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// mfaSetupRequired reports whether a user with the given MFA state must
// enrol before doing anything else.
func (s *Service) mfaSetupRequired(ctx context.Context, b dbx.Builder, mfaEnabled bool) (bool, error) {
	if mfaEnabled {
		return false, nil
	}
	v, err := s.settingValue(ctx, b, SettingRequireMFA)
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}
