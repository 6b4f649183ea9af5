// Package settings owns the instance settings an administrator can read
// and change: the security controls mission tests are assessed against,
// whether MFA is required, the evidence size limit. Each is one row of the
// settings table (a JSON value per key); a missing row means the default,
// which is defined here and nowhere else (no seed, no fallback elsewhere).
// Other rows of the table (mitre_sync, bundle_trusted_keys, setup_completed_at)
// belong to the capabilities that write them and are not reachable here.
package settings

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// The settings' keys.
const (
	SecurityControls = "security_controls"
	RequireMFA       = "require_mfa"
	EvidenceMaxBytes = "evidence_max_bytes"
	// MitreSyncHosts lists the hosts POST /mitre/sync may fetch a bundle
	// URL from (the pinned release is always allowed); empty = none.
	MitreSyncHosts = "mitre_sync_hosts"
	// OrganisationName and OrganisationLogo brand the HTML report
	// (app/results): a name, and a small raster image as a data: URL (the
	// report is one self-contained file).
	OrganisationName = "organisation_name"
	OrganisationLogo = "organisation_logo"
	// BackupSchedule is the instance backup schedule (app/bundle/
	// instancebundle): {"interval_hours": 0 = off, "keep": N}. It is not
	// one of the settings the settings API lists or changes: backup.manage
	// sets it through /api/v1/admin/backups/schedule.
	BackupSchedule = "backup_schedule"
)

// Bounds of the settings.
const (
	MaxSecurityControls     = 30
	MaxSecurityControlLen   = 60
	MinEvidenceMaxBytes     = 1 << 20 // 1 MiB
	MaxEvidenceMaxBytes     = 8 << 30 // 8 GiB
	DefaultEvidenceMaxBytes = 512 << 20
	MaxMitreSyncHosts       = 20
	MaxOrganisationNameLen  = 200
	MaxOrganisationLogo     = 256 << 10 // bytes of image
	MaxBackupIntervalHours  = 24 * 30
	MaxBackupKeep           = 100
	DefaultBackupKeep       = 7
)

// Schedule is the backup schedule: every IntervalHours hours (0 = no
// scheduled backups), keeping the newest Keep.
type Schedule struct {
	IntervalHours int `json:"interval_hours"`
	Keep          int `json:"keep"`
}

// DefaultSecurityControls is the list of security controls an instance
// starts with: the one definition of it.
func DefaultSecurityControls() []string {
	return []string{"EDR", "SIEM", "AV", "Firewall", "Mail gateway", "Web proxy", "DLP"}
}

// spec is one known setting: its default and its validation, which returns
// the value to store (normalised) or a problem for the user.
type spec struct {
	def   func() any
	parse func(raw json.RawMessage) (any, string)
}

var specs = map[string]spec{
	SecurityControls: {def: func() any { return DefaultSecurityControls() }, parse: parseSecurityControls},
	RequireMFA:       {def: func() any { return false }, parse: parseRequireMFA},
	EvidenceMaxBytes: {def: func() any { return int64(DefaultEvidenceMaxBytes) }, parse: parseEvidenceMaxBytes},
	MitreSyncHosts:   {def: func() any { return []string{} }, parse: parseMitreSyncHosts},
	OrganisationName: {def: func() any { return "" }, parse: parseOrganisationName},
	OrganisationLogo: {def: func() any { return "" }, parse: parseOrganisationLogo},
	BackupSchedule:   {def: func() any { return Schedule{Keep: DefaultBackupKeep} }, parse: parseBackupSchedule},
}

// internal are known settings that the settings API neither lists nor
// changes: each has its own route and permission.
var internal = map[string]bool{BackupSchedule: true}

// order is the order of Keys and of the settings object.
var order = []string{SecurityControls, RequireMFA, EvidenceMaxBytes, MitreSyncHosts, OrganisationName, OrganisationLogo}

// Keys lists the settings the API exposes.
func Keys() []string { return append([]string(nil), order...) }

func decodeValue(raw json.RawMessage) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	return v, true
}

func parseSecurityControls(raw json.RawMessage) (any, string) {
	shape := fmt.Sprintf("must be an array of 1 to %d distinct control names (text of 1 to %d characters)",
		MaxSecurityControls, MaxSecurityControlLen)
	v, ok := decodeValue(raw)
	arr, isArr := v.([]any)
	if !ok || !isArr || len(arr) < 1 || len(arr) > MaxSecurityControls {
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
		case utf8.RuneCountInString(name) > MaxSecurityControlLen:
			return nil, fmt.Sprintf("item %d is longer than %d characters", i+1, MaxSecurityControlLen)
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

func parseBackupSchedule(raw json.RawMessage) (any, string) {
	problem := fmt.Sprintf(`must be {"interval_hours": 0 (off) to %d, "keep": 1 to %d}`, MaxBackupIntervalHours, MaxBackupKeep)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var v struct {
		IntervalHours *int `json:"interval_hours"`
		Keep          *int `json:"keep"`
	}
	if err := dec.Decode(&v); err != nil || dec.More() || v.IntervalHours == nil || v.Keep == nil ||
		*v.IntervalHours < 0 || *v.IntervalHours > MaxBackupIntervalHours || *v.Keep < 1 || *v.Keep > MaxBackupKeep {
		return nil, problem
	}
	return Schedule{IntervalHours: *v.IntervalHours, Keep: *v.Keep}, ""
}

func parseRequireMFA(raw json.RawMessage) (any, string) {
	v, ok := decodeValue(raw)
	b, isBool := v.(bool)
	if !ok || !isBool {
		return nil, "must be true or false"
	}
	return b, ""
}

func parseEvidenceMaxBytes(raw json.RawMessage) (any, string) {
	problem := fmt.Sprintf("must be a whole number of bytes from %d (1 MiB) to %d (8 GiB)", MinEvidenceMaxBytes, int64(MaxEvidenceMaxBytes))
	v, ok := decodeValue(raw)
	num, isNum := v.(json.Number)
	if !ok || !isNum {
		return nil, problem
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil || n < MinEvidenceMaxBytes || n > MaxEvidenceMaxBytes {
		return nil, problem
	}
	return n, ""
}

// parseMitreSyncHosts takes host names or host:port entries: no scheme, no
// path, no wildcard; lower-cased, duplicates dropped.
func parseMitreSyncHosts(raw json.RawMessage) (any, string) {
	shape := fmt.Sprintf("must be an array of at most %d host names (or host:port), without scheme or path", MaxMitreSyncHosts)
	v, ok := decodeValue(raw)
	arr, isArr := v.([]any)
	if !ok || !isArr || len(arr) > MaxMitreSyncHosts {
		return nil, shape
	}
	out := make([]string, 0, len(arr))
	for i, x := range arr {
		h, isStr := x.(string)
		h = strings.ToLower(strings.TrimSpace(h))
		if !isStr || !validHostEntry(h) {
			return nil, fmt.Sprintf("item %d must be a host name or host:port (like attack.example.org), without scheme, path or wildcard", i+1)
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, ""
}

func validHostEntry(h string) bool {
	if h == "" || len(h) > 260 {
		return false
	}
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
		host = hh
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return true
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func parseOrganisationName(raw json.RawMessage) (any, string) {
	problem := fmt.Sprintf("must be text of at most %d characters without control characters", MaxOrganisationNameLen)
	v, ok := decodeValue(raw)
	name, isStr := v.(string)
	name = strings.TrimSpace(name)
	if !ok || !isStr || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxOrganisationNameLen ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, problem
	}
	return name, ""
}

// logoMagic are the leading bytes of the image types a logo may be.
var logoMagic = map[string][]string{
	"png":  {"\x89PNG\r\n\x1a\n"},
	"jpeg": {"\xff\xd8\xff"},
	"gif":  {"GIF87a", "GIF89a"},
	"webp": {"RIFF"},
}

// parseOrganisationLogo accepts "" or a data: URL of a PNG, JPEG, GIF or
// WebP image of at most 256 KiB whose bytes are of the type it claims. No
// SVG: it could reference external resources, and the report must not.
func parseOrganisationLogo(raw json.RawMessage) (any, string) {
	problem := fmt.Sprintf(`must be "" or a data URL (data:image/png;base64,…) of a PNG, JPEG, GIF or WebP image of at most %d KiB`, MaxOrganisationLogo>>10)
	v, ok := decodeValue(raw)
	s, isStr := v.(string)
	if !ok || !isStr {
		return nil, problem
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	rest, found := strings.CutPrefix(s, "data:image/")
	kind, b64, found2 := strings.Cut(rest, ";base64,")
	magic, known := logoMagic[kind]
	if !found || !found2 || !known {
		return nil, problem
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 || len(data) > MaxOrganisationLogo {
		return nil, problem
	}
	for _, m := range magic {
		if bytes.HasPrefix(data, []byte(m)) && (kind != "webp" || len(data) >= 12 && string(data[8:12]) == "WEBP") {
			return "data:image/" + kind + ";base64," + base64.StdEncoding.EncodeToString(data), ""
		}
	}
	return nil, "the image's bytes are not a " + strings.ToUpper(kind)
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

type row struct {
	Key       string  `db:"key"`
	Value     db.JSON `db:"value"`
	UpdatedBy *string `db:"updated_by"`
	UpdatedAt db.Time `db:"updated_at"`
}

func errUnknown(key string) error {
	return apperr.New(apperr.ErrNotFound, "setting_not_found", "There is no setting %q. Known settings: %s.",
		text.Truncate(key, 64), strings.Join(order, ", "))
}

// Options are the service's dependencies.
type Options struct {
	DB  *db.DB
	Now func() time.Time // nil = time.Now
}

// Service reads and writes the settings.
type Service struct {
	db  *db.DB
	now func() time.Time
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: o.DB, now: o.Now}
}

// read returns the stored row and whether it exists.
func read(ctx context.Context, b dbx.Builder, key string) (row, bool, error) {
	var r row
	err := b.Select("key", "value", "updated_by", "updated_at").From("settings").
		Where(dbx.HashExp{"key": key}).WithContext(ctx).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("settings: read %s: %w", key, err)
	}
	return r, true, nil
}

// value returns the effective value of a known key: the stored one, or the
// default when no row exists. A stored value that no longer validates is an
// error, never silently replaced by the default.
func value(ctx context.Context, b dbx.Builder, key string) (any, error) {
	sp := specs[key]
	r, ok, err := read(ctx, b, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return sp.def(), nil
	}
	v, problem := sp.parse(json.RawMessage(r.Value))
	if problem != "" {
		return nil, fmt.Errorf("settings: stored %s is invalid: %s", key, problem)
	}
	return v, nil
}

// All returns every exposed setting's effective value, keyed by name.
func (s *Service) All(ctx context.Context) (map[string]any, error) {
	out := make(map[string]any, len(order))
	for _, k := range order {
		v, err := value(ctx, s.db.Read, k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// Get returns one setting; unknown keys (and internal ones) are not found.
func (s *Service) Get(ctx context.Context, key string) (Setting, error) {
	if internal[key] {
		return Setting{}, errUnknown(key)
	}
	return get(ctx, s.db.Read, key)
}

func get(ctx context.Context, b dbx.Builder, key string) (Setting, error) {
	if _, ok := specs[key]; !ok {
		return Setting{}, errUnknown(key)
	}
	r, ok, err := read(ctx, b, key)
	if err != nil {
		return Setting{}, err
	}
	v, err := value(ctx, b, key)
	if err != nil {
		return Setting{}, err
	}
	out := Setting{Key: key, Value: json.RawMessage(db.MustJSON(v)), IsDefault: !ok}
	if ok {
		out.UpdatedAt, out.UpdatedBy = &r.UpdatedAt, r.UpdatedBy
	}
	return out, nil
}

// Parse validates a value for key and returns it normalised (e.g. trimmed
// control names): unknown keys are not found, bad values a 422 naming the
// problem.
func Parse(key string, raw json.RawMessage) (any, error) {
	if internal[key] {
		return nil, errUnknown(key)
	}
	return parse(key, raw)
}

func parse(key string, raw json.RawMessage) (any, error) {
	sp, ok := specs[key]
	if !ok {
		return nil, errUnknown(key)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &apperr.Invalid{Fields: map[string]string{"value": "is required"}}
	}
	v, problem := sp.parse(raw)
	if problem != "" {
		return nil, &apperr.Invalid{Fields: map[string]string{"value": problem}}
	}
	return v, nil
}

// Put validates and stores a setting's value on behalf of actor, with an
// audit event, and reports whether it changed: a value equal to the current
// one writes nothing. Rules about who may set what (settings.manage, MFA
// before require_mfa) are the caller's (auth.PutSetting).
func (s *Service) Put(ctx context.Context, actor audit.Actor, key string, raw json.RawMessage) (Setting, bool, error) {
	if internal[key] {
		return Setting{}, false, errUnknown(key)
	}
	return s.put(ctx, actor, key, raw)
}

func (s *Service) put(ctx context.Context, actor audit.Actor, key string, raw json.RawMessage) (Setting, bool, error) {
	v, err := parse(key, raw)
	if err != nil {
		return Setting{}, false, err
	}
	var out Setting
	var changed bool
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var err error
		out, changed, err = s.putTx(ctx, tx, actor, key, v)
		return err
	})
	if err != nil {
		return Setting{}, false, err
	}
	return out, changed, nil
}

// PutTx is Put inside the caller's transaction, for values already parsed
// (a library bundle adds security controls with its templates).
func (s *Service) PutTx(ctx context.Context, tx *dbx.Tx, actor audit.Actor, key string, raw json.RawMessage) (Setting, bool, error) {
	if internal[key] {
		return Setting{}, false, errUnknown(key)
	}
	v, err := parse(key, raw)
	if err != nil {
		return Setting{}, false, err
	}
	return s.putTx(ctx, tx, actor, key, v)
}

func (s *Service) putTx(ctx context.Context, tx *dbx.Tx, actor audit.Actor, key string, v any) (Setting, bool, error) {
	stored := string(db.MustJSON(v))
	var out Setting
	var changed bool
	err := func() error {
		before, err := value(ctx, tx, key)
		if err != nil {
			return err
		}
		if string(db.MustJSON(before)) != stored {
			changed = true
			now := db.NewTime(s.now())
			var by any
			if actor.UserID != "" {
				by = actor.UserID
			}
			_, err = tx.NewQuery(`INSERT INTO settings (key, value, updated_by, updated_at) VALUES ({:key}, {:value}, {:by}, {:at})
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`).
				Bind(dbx.Params{"key": key, "value": stored, "by": by, "at": now}).WithContext(ctx).Execute()
			if err != nil {
				return fmt.Errorf("settings: write %s: %w", key, err)
			}
			if err := audit.Record(ctx, tx, now, actor, audit.Event{Action: "settings.update", ObjectType: "setting", ObjectID: key,
				Details: map[string]any{"before": before, "after": v}}); err != nil {
				return err
			}
		}
		out, err = get(ctx, tx, key)
		return err
	}()
	if err != nil {
		return Setting{}, false, err
	}
	return out, changed, nil
}

// RequireMFAIn reports whether every account must use MFA, read through b
// (the caller's transaction, or a pool).
func RequireMFAIn(ctx context.Context, b dbx.Builder) (bool, error) {
	v, err := value(ctx, b, RequireMFA)
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// RequireMFA reports whether every account must use MFA.
func (s *Service) RequireMFA(ctx context.Context) (bool, error) { return RequireMFAIn(ctx, s.db.Read) }

// EvidenceMaxBytes is the largest evidence upload the instance accepts.
func (s *Service) EvidenceMaxBytes(ctx context.Context) (int64, error) {
	v, err := value(ctx, s.db.Read, EvidenceMaxBytes)
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// MitreSyncHosts is the list of hosts an ATT&CK sync over the API may
// fetch from (mitre.HostList).
func (s *Service) MitreSyncHosts(ctx context.Context) ([]string, error) {
	v, err := value(ctx, s.db.Read, MitreSyncHosts)
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// SecurityControls is the configured list of security controls (EDR,
// SIEM, …) that mission tests are assessed against. Database errors and an
// invalid stored value are errors; only a missing row means the default.
func (s *Service) SecurityControls(ctx context.Context) ([]string, error) {
	v, err := value(ctx, s.db.Read, SecurityControls)
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// Organisation is how reports name the organisation: its name and logo
// (a data: URL, or "").
func (s *Service) Organisation(ctx context.Context) (name, logo string, err error) {
	n, err := value(ctx, s.db.Read, OrganisationName)
	if err != nil {
		return "", "", err
	}
	l, err := value(ctx, s.db.Read, OrganisationLogo)
	if err != nil {
		return "", "", err
	}
	return n.(string), l.(string), nil
}

// BackupSchedule returns the backup schedule.
func (s *Service) BackupSchedule(ctx context.Context) (Schedule, error) {
	v, err := value(ctx, s.db.Read, BackupSchedule)
	if err != nil {
		return Schedule{}, err
	}
	return v.(Schedule), nil
}

// PutBackupSchedule validates and stores the backup schedule (audited as
// settings.update); the caller checks backup.manage.
func (s *Service) PutBackupSchedule(ctx context.Context, actor audit.Actor, raw json.RawMessage) (Schedule, error) {
	if _, _, err := s.put(ctx, actor, BackupSchedule, raw); err != nil {
		return Schedule{}, err
	}
	return s.BackupSchedule(ctx)
}
