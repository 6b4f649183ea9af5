package mitre

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

// Pin is the compiled-in ATT&CK release: where to fetch it and how to know
// it. The official file's sha256 is not known to this build (the release is
// published in several serialisations), so SHA256 is empty and the release
// is recognised by content instead: its canonical digest (digest.go), the
// same for mitre/cti's STIX 2.0 bundle and attack-stix-data's STIX 2.1 file,
// plain or gzipped. A pinned value is only ever a verified one.
type Pin struct {
	URL     string `json:"default_url"`
	Version string `json:"default_version"`
	SHA256  string `json:"default_sha256"`
	Digest  string `json:"default_digest"`
}

// DefaultPin is ATT&CK Enterprise 18.1. Digest is the canonical digest of
// the release as tagged ATT&CK-v18.1 in mitre/cti (24,771 objects), computed
// from ../shared/testdata/attack/enterprise-attack.json.gz; TestPinnedDigest
// recomputes it from that file in every form.
var DefaultPin = Pin{
	URL:     "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack-18.1.json",
	Version: "18.1",
	SHA256:  "",
	Digest:  "7f27249b7ed5c1f47907a255ece9df9567ba85a216d4fdd0a989e74f1d091519",
}

// MaxBundleBytes caps a bundle download or upload (the full enterprise
// bundle is 45 MB uncompressed).
const MaxBundleBytes = 256 << 20

// Service is the catalogue capability.
type Service struct {
	db        *db.DB
	pin       Pin
	client    *http.Client
	now       func() time.Time
	importDir string
	hosts     HostList
	syncMu    sync.Mutex // one sync at a time per process

	loadMu sync.Mutex // one snapshot load or stamp check at a time
	cache  atomic.Pointer[snapshot]

	hooksMu sync.Mutex
	hooks   []SyncHook
}

// SyncHook runs inside a sync's transaction once the catalogue is written,
// for data other capabilities derive from the catalogue (the template
// library's template→tactic table). An error rolls the sync back.
type SyncHook func(ctx context.Context, tx *dbx.Tx) error

// OnSync adds a hook that every later sync runs.
func (s *Service) OnSync(h SyncHook) {
	s.hooksMu.Lock()
	s.hooks = append(s.hooks, h)
	s.hooksMu.Unlock()
}

// Options configure the service.
type Options struct {
	DB     *db.DB
	Pin    *Pin // nil = DefaultPin
	Client *http.Client
	Now    func() time.Time
	// ImportDir is the one server directory a sync over the API may read
	// a bundle from, by name; "" = none (uploads only).
	ImportDir string
	// Hosts lists the hosts a sync over the API may fetch an https URL
	// from (the settings service); nil = none.
	Hosts HostList
}

// HostList gives the hosts an API sync may fetch bundles from, read at
// each sync so a changed setting applies at once.
type HostList interface {
	MitreSyncHosts(ctx context.Context) ([]string, error)
}

// New builds the service.
func New(o Options) *Service {
	s := &Service{db: o.DB, pin: DefaultPin, client: o.Client, now: o.Now, importDir: o.ImportDir, hosts: o.Hosts}
	if o.Pin != nil {
		s.pin = *o.Pin
	}
	if s.client == nil {
		s.client = &http.Client{
			Timeout: 2 * time.Minute,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
				TLSHandshakeTimeout: 10 * time.Second,
				TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
			},
		}
	}
	// Every redirect hop is held to the rules of the first request: https,
	// and for an API sync a host on the allowed list, so an allowed host
	// cannot bounce the server to an internal address.
	c := *s.client // a copy: the caller's client is left as it was
	c.CheckRedirect = checkRedirect
	s.client = &c
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// PinInfo returns the compiled-in pin.
func (s *Service) PinInfo() Pin { return s.pin }

// SyncParams say where the bundle comes from and how to trust it.
type SyncParams struct {
	// Source is "" (the pinned release URL), an https URL on a host the
	// mitre_sync_hosts setting allows, or the name of a file in the import
	// directory. Trusted callers (the console) may give any https URL or
	// file path.
	Source          string `json:"source"`
	ExpectedSHA256  string `json:"expected_sha256"`
	AllowUnverified bool   `json:"allow_unverified"`
	Version         string `json:"version"`
	// Upload is the bundle itself (multipart upload, CLI file); Source then
	// only names it.
	Upload   io.Reader               `json:"-"`
	Progress func(read, total int64) `json:"-"`
	// Trusted is set by the operator's console (purplebook mitre sync):
	// the source is not confined to the import directory and allowed hosts.
	Trusted bool `json:"-"`
}

// Counts are catalogue sizes.
type Counts struct {
	Tactics             int `json:"tactics"`
	Techniques          int `json:"techniques"`
	Subtechniques       int `json:"subtechniques"`
	ActiveTechniques    int `json:"active_techniques"`
	ActiveSubtechniques int `json:"active_subtechniques"`
}

// Change is one catalogue entry that changed in a sync.
type Change struct {
	Kind       string `json:"kind"` // tactic, technique, subtechnique
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	OldName    string `json:"old_name,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"` // external id of the replacement (revoked)
}

// Changes is what a sync changed.
type Changes struct {
	Added      []Change `json:"added"`
	Renamed    []Change `json:"renamed"`
	Revoked    []Change `json:"revoked"`
	Deprecated []Change `json:"deprecated"`
	Removed    []Change `json:"removed"`
	Restored   []Change `json:"restored"`
}

// Total is the number of changes.
func (c Changes) Total() int {
	return len(c.Added) + len(c.Renamed) + len(c.Revoked) + len(c.Deprecated) + len(c.Removed) + len(c.Restored)
}

// AffectedTag is a template tag that now points at an inactive entry.
type AffectedTag struct {
	TestTemplateID   string `json:"test_template_id" db:"test_template_id"`
	TestTemplateName string `json:"test_template_name" db:"test_template_name"`
	Kind             string `json:"kind" db:"kind"`
	ExternalID       string `json:"external_id" db:"external_id"`
	Name             string `json:"name" db:"name"`
	State            string `json:"state" db:"-"`
	Revoked          bool   `json:"-" db:"revoked"`
	Deprecated       bool   `json:"-" db:"deprecated"`
	Removed          bool   `json:"-" db:"removed"`
	ReplacedBy       string `json:"replaced_by,omitempty" db:"-"`
	RevokedBy        string `json:"-" db:"revoked_by_stix_id"`
}

// SyncInfo is the stored record of the last sync (settings key mitre_sync).
type SyncInfo struct {
	SyncedAt        db.Time  `json:"synced_at"`
	Version         string   `json:"version"`
	SourceURL       string   `json:"source_url"`
	SHA256          string   `json:"sha256"`           // of the uncompressed bundle
	FileSHA256      string   `json:"file_sha256"`      // of the file as received (differs when gzipped)
	CanonicalDigest string   `json:"canonical_digest"` // digest.go
	Verified        bool     `json:"verified"`
	Verification    string   `json:"verification"`          // sha256, pinned_release, unverified
	VerifiedAt      *db.Time `json:"verified_at,omitempty"` // set when an admin verified it after the import
	SpecVersion     string   `json:"spec_version"`
	Domain          string   `json:"domain"`
	Objects         int      `json:"objects"`
	Counts          Counts   `json:"counts"`
	ChangeCount     int      `json:"change_count"`
}

// SyncResult is the answer of a sync.
type SyncResult struct {
	SyncInfo
	Changes      Changes       `json:"changes"`
	AffectedTags []AffectedTag `json:"affected_tags"`
	DurationMS   float64       `json:"duration_ms"`
}

func unprocessable(code, format string, args ...any) *apperr.Error {
	return apperr.Unprocessable(code, format, args...)
}

// errSourceUnavailable answers every source an API sync may not use, and
// every one it may use but that is missing: the answer never tells what
// exists on the server or its network outside the import directory and
// the allowed hosts.
func errSourceUnavailable() error {
	return unprocessable("source_unavailable",
		"This source is not available. Upload the bundle file, name a file in the server's import directory, "+
			"or give an https URL on a host the mitre_sync_hosts setting allows.")
}

// open returns the bundle stream and a name for it.
func (s *Service) open(ctx context.Context, p SyncParams) (io.ReadCloser, string, int64, error) {
	if p.Upload != nil {
		name := p.Source
		if name == "" {
			name = "upload"
		}
		return io.NopCloser(p.Upload), name, -1, nil
	}
	src := p.Source
	pinned := src == "" || src == s.pin.URL
	if pinned {
		src = s.pin.URL
	}
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		return s.fetch(ctx, src, p.Trusted || pinned)
	}
	if p.Trusted {
		return openLocal(src)
	}
	return s.openImport(src)
}

// fetch GETs a bundle URL. Unless trusted (the console, the pinned
// release), its host must be on the allowed list, checked before any
// connection is made and again at every redirect.
func (s *Service) fetch(ctx context.Context, src string, trusted bool) (io.ReadCloser, string, int64, error) {
	u, err := url.Parse(src)
	if !trusted {
		if err != nil || u.Host == "" || u.User != nil {
			return nil, "", 0, errSourceUnavailable()
		}
		allowed, err := s.allowedHosts(ctx)
		if err != nil {
			return nil, "", 0, err
		}
		if !hostAllowed(u, allowed) {
			return nil, "", 0, errSourceUnavailable()
		}
		ctx = context.WithValue(ctx, allowedHostsKey{}, allowed)
	}
	if err != nil || u.Host == "" {
		return nil, "", 0, unprocessable("invalid_source", "%q is not a valid URL.", src)
	}
	if u.Scheme != "https" {
		return nil, "", 0, unprocessable("insecure_source", "Only https URLs are accepted; upload the file instead.")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, "", 0, unprocessable("invalid_source", "%q is not a valid URL.", src)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, errRedirectRefused) {
			return nil, "", 0, errSourceUnavailable()
		}
		return nil, "", 0, unprocessable("source_unreachable",
			"Cannot reach %s (%s) — upload the file instead.", u.Host, shortNetErr(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, "", 0, unprocessable("source_unreachable",
			"%s answered %s — upload the file instead.", u.Host, resp.Status)
	}
	if resp.ContentLength > MaxBundleBytes {
		resp.Body.Close()
		return nil, "", 0, apperr.New(apperr.ErrTooLarge, "too_large", "The bundle is larger than %d MiB.", MaxBundleBytes>>20)
	}
	return resp.Body, src, resp.ContentLength, nil
}

// openLocal opens any absolute file path (the console only).
func openLocal(src string) (io.ReadCloser, string, int64, error) {
	if !filepath.IsAbs(src) {
		return nil, "", 0, unprocessable("invalid_source", "The source must be an https URL or an absolute file path.")
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, "", 0, unprocessable("source_unreadable", "Cannot read %s.", src)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, "", 0, unprocessable("source_unreadable", "%s is not a regular file.", src)
	}
	return f, src, st.Size(), nil
}

// openImport opens a file of the import directory named by a path relative
// to it (or an absolute path inside it). os.Root confines the lookup: ".."
// and symbolic links cannot leave the directory. Whatever fails, the answer
// is the same.
func (s *Service) openImport(src string) (io.ReadCloser, string, int64, error) {
	if s.importDir == "" || src == "" || strings.ContainsRune(src, 0) {
		return nil, "", 0, errSourceUnavailable()
	}
	rel := src
	if filepath.IsAbs(src) {
		r, err := filepath.Rel(s.importDir, src)
		if err != nil {
			return nil, "", 0, errSourceUnavailable()
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if !filepath.IsLocal(rel) {
		return nil, "", 0, errSourceUnavailable()
	}
	root, err := os.OpenRoot(s.importDir)
	if err != nil {
		return nil, "", 0, errSourceUnavailable()
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, "", 0, errSourceUnavailable()
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, "", 0, errSourceUnavailable()
	}
	return f, filepath.Join(s.importDir, rel), st.Size(), nil
}

// allowedHosts reads the allowed list (none when no list is configured).
func (s *Service) allowedHosts(ctx context.Context) ([]string, error) {
	if s.hosts == nil {
		return nil, nil
	}
	hs, err := s.hosts.MitreSyncHosts(ctx)
	if err != nil {
		return nil, fmt.Errorf("mitre: allowed hosts: %w", err)
	}
	return hs, nil
}

// hostAllowed matches the URL's host against the list: an entry "host"
// allows that host on the default https port, "host:port" that port only.
// Names compare case-insensitively; nothing matches by suffix.
func hostAllowed(u *url.URL, allowed []string) bool {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	port := u.Port()
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		h, p := a, ""
		if hh, pp, err := net.SplitHostPort(a); err == nil {
			h, p = hh, pp
		}
		h = strings.Trim(h, "[]")
		if h != strings.Trim(host, "[]") {
			continue
		}
		if p == port || p == "443" && port == "" || p == "" && port == "443" {
			return true
		}
	}
	return false
}

type allowedHostsKey struct{}

var errRedirectRefused = errors.New("mitre: redirect refused")

// checkRedirect holds every redirect to https and, for an API sync (the
// allowed list is in the request's context), to an allowed host.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errRedirectRefused
	}
	if req.URL.Scheme != "https" {
		return errRedirectRefused
	}
	if allowed, ok := req.Context().Value(allowedHostsKey{}).([]string); ok && !hostAllowed(req.URL, allowed) {
		return errRedirectRefused
	}
	return nil
}

func shortNetErr(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "no such host"), strings.Contains(err.Error(), "server misbehaving"):
		return "name not resolved"
	case strings.Contains(err.Error(), "network is unreachable"):
		return "no network"
	}
	return "network error"
}

// limitedReader fails once more than n bytes were read. It asks for one
// byte past the limit, so a body of exactly n bytes still ends with io.EOF.
type limitedReader struct {
	r io.Reader
	n int64
}

var errBundleTooLarge = apperr.New(apperr.ErrTooLarge, "too_large", "The bundle is larger than %d MiB.", MaxBundleBytes>>20)

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errBundleTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errBundleTooLarge
	}
	return n, err
}

// Sync imports a bundle: everything is parsed and verified first, then
// applied in one transaction (a crash leaves the previous catalogue).
// Rows are upserted by STIX id and never deleted, so template tags survive.
func (s *Service) Sync(ctx context.Context, p SyncParams, actor audit.Actor) (*SyncResult, error) {
	start := s.now()
	p.ExpectedSHA256 = strings.ToLower(strings.TrimSpace(p.ExpectedSHA256))
	if p.ExpectedSHA256 != "" && !isHex64(p.ExpectedSHA256) {
		return nil, (&apperr.Invalid{Fields: map[string]string{"expected_sha256": "must be 64 hexadecimal characters"}})
	}
	if len(p.Version) > 20 {
		return nil, (&apperr.Invalid{Fields: map[string]string{"version": "must be at most 20 characters"}})
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()

	rc, name, total, err := s.open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var progress func(int64)
	if p.Progress != nil {
		progress = func(n int64) { p.Progress(n, total) }
	}
	b, err := Parse(&limitedReader{r: rc, n: MaxBundleBytes}, progress)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, unprocessable("invalid_bundle", "%s", pe.Msg)
		}
		return nil, err
	}
	if b.Domain != EnterpriseDomain {
		return nil, unprocessable("unsupported_domain",
			"This is the %s domain (STIX %s, collection version %s). Purplebook's catalogue holds Enterprise ATT&CK; import the enterprise-attack bundle instead.",
			b.Domain, b.SpecVersion, orDash(b.CollectionVersion))
	}
	info, err := s.verify(b, p, name)
	if err != nil {
		return nil, err
	}
	res := &SyncResult{SyncInfo: info}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		changes, err := s.apply(ctx, tx, b)
		if err != nil {
			return err
		}
		s.hooksMu.Lock()
		hooks := append([]SyncHook(nil), s.hooks...)
		s.hooksMu.Unlock()
		for _, h := range hooks {
			if err := h(ctx, tx); err != nil {
				return err
			}
		}
		res.Changes = changes
		counts, err := countCatalogue(ctx, tx)
		if err != nil {
			return err
		}
		res.Counts = counts
		res.ChangeCount = changes.Total()
		res.SyncedAt = db.NewTime(s.now())
		if _, err := tx.NewQuery(`DELETE FROM settings WHERE key = 'mitre_sync'`).WithContext(ctx).Execute(); err != nil {
			return err
		}
		if _, err := tx.Insert("settings", dbx.Params{"key": "mitre_sync", "value": string(db.MustJSON(res.SyncInfo)),
			"updated_by": nullable(actor.UserID), "updated_at": res.SyncedAt}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		res.AffectedTags, err = affectedTags(ctx, tx)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, res.SyncedAt, actor, audit.Event{Action: "mitre.sync", ObjectType: "mitre_catalogue", ObjectID: b.Domain,
			Details: map[string]any{"version": info.Version, "source": info.SourceURL, "sha256": info.SHA256,
				"verification": info.Verification, "added": len(changes.Added), "renamed": len(changes.Renamed),
				"revoked": len(changes.Revoked), "deprecated": len(changes.Deprecated), "removed": len(changes.Removed)}})
	})
	if err != nil {
		return nil, fmt.Errorf("mitre: sync: %w", err)
	}
	s.Invalidate()
	res.DurationMS = float64(s.now().Sub(start).Microseconds()) / 1000
	return res, nil
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// verify decides whether the bundle may be applied and how it was verified.
func (s *Service) verify(b *Bundle, p SyncParams, name string) (SyncInfo, error) {
	info := SyncInfo{SourceURL: name, SHA256: b.SHA256, FileSHA256: b.FileSHA256, CanonicalDigest: b.CanonicalDigest,
		SpecVersion: b.SpecVersion, Domain: b.Domain, Objects: b.Objects}
	version := b.CollectionVersion
	if p.Version != "" && version != "" && p.Version != version {
		return info, unprocessable("version_mismatch", "The bundle says it is version %s, not %s.", version, p.Version)
	}
	if version == "" {
		version = p.Version
	}
	matchesPin := s.pin.SHA256 != "" && (b.SHA256 == s.pin.SHA256 || b.FileSHA256 == s.pin.SHA256) ||
		s.pin.Digest != "" && b.CanonicalDigest == s.pin.Digest
	isDefault := p.Upload == nil && (p.Source == "" || p.Source == s.pin.URL)
	switch {
	case p.ExpectedSHA256 != "":
		if !info.matches(p.ExpectedSHA256) {
			return info, unprocessable("sha256_mismatch",
				"The bundle's sha256 is %s, not the expected %s. Nothing was changed.", b.SHA256, p.ExpectedSHA256).
				WithDetails(map[string]any{"expected_sha256": p.ExpectedSHA256, "actual_sha256": b.SHA256,
					"file_sha256": b.FileSHA256, "canonical_digest": b.CanonicalDigest})
		}
		info.Verified, info.Verification = true, "sha256"
	case matchesPin:
		info.Verified, info.Verification = true, "pinned_release"
		if version == "" {
			version = s.pin.Version
		}
	case isDefault:
		return info, unprocessable("pin_mismatch",
			"The pinned source did not deliver ATT&CK %s (its content digest is %s, collection version %s). Nothing was changed.",
			s.pin.Version, b.CanonicalDigest, orDash(b.CollectionVersion))
	case p.AllowUnverified:
		info.Verification = "unverified"
	default:
		return info, unprocessable("unverified_source",
			"This bundle is not the pinned ATT&CK %s release and no expected_sha256 was given. Give its sha256, or allow an unverified import explicitly. Nothing was changed.", s.pin.Version).
			WithDetails(map[string]any{"actual_sha256": b.SHA256, "file_sha256": b.FileSHA256, "canonical_digest": b.CanonicalDigest})
	}
	if version == "" {
		version = "unknown"
	}
	info.Version = version
	return info, nil
}

// matches reports whether sum (lowercase hex) is one of the bundle's three
// identities: the sha256 of its content, of its file, or its canonical digest.
func (i SyncInfo) matches(sum string) bool {
	return sum != "" && (sum == i.SHA256 || sum == i.FileSHA256 || sum == i.CanonicalDigest)
}

// Verify marks the imported catalogue verified after the fact: sum must be
// the sha256 of the bundle that was imported (of the file or of its
// uncompressed content) or its canonical digest, as published by someone the
// admin trusts. A mismatch is 422 and changes nothing; verifying a verified
// catalogue again with a matching sum changes nothing either.
func (s *Service) Verify(ctx context.Context, sum string, actor audit.Actor) (*SyncInfo, error) {
	sum = strings.ToLower(strings.TrimSpace(sum))
	if !isHex64(sum) {
		return nil, &apperr.Invalid{Fields: map[string]string{"sha256": "must be 64 hexadecimal characters"}}
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	info, err := s.LastSync(ctx)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, apperr.New(apperr.ErrConflict, "no_catalogue", "No ATT&CK catalogue has been imported yet: import one first.")
	}
	if !info.matches(sum) {
		return nil, unprocessable("sha256_mismatch",
			"%s is neither the sha256 of the imported bundle nor its canonical digest. Nothing was changed.", sum).
			WithDetails(map[string]any{"sha256": sum, "bundle_sha256": info.SHA256, "file_sha256": info.FileSHA256,
				"canonical_digest": info.CanonicalDigest})
	}
	if info.Verified {
		return info, nil
	}
	now := db.NewTime(s.now())
	info.Verified, info.Verification, info.VerifiedAt = true, "sha256", &now
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		if _, err := tx.Update("settings", dbx.Params{"value": string(db.MustJSON(info)), "updated_by": nullable(actor.UserID),
			"updated_at": now}, dbx.HashExp{"key": "mitre_sync"}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: "mitre.verify", ObjectType: "mitre_catalogue", ObjectID: info.Domain,
			Details: map[string]any{"version": info.Version, "sha256": sum, "verified": map[string]any{"before": false, "after": true}}})
	})
	if err != nil {
		return nil, fmt.Errorf("mitre: verify: %w", err)
	}
	return info, nil
}

// ---------------------------------------------------------------------------
// Apply

type existingRow struct {
	ID         string  `db:"id"`
	StixID     string  `db:"stix_id"`
	ExternalID string  `db:"external_id"`
	Name       string  `db:"name"`
	Revoked    bool    `db:"revoked"`
	Deprecated bool    `db:"deprecated"`
	Removed    bool    `db:"removed"`
	Modified   *string `db:"stix_modified"`
}

func loadExisting(ctx context.Context, tx *dbx.Tx, table string) (map[string]existingRow, error) {
	var rows []existingRow
	err := tx.Select("id", "stix_id", "external_id", "name", "revoked", "deprecated", "removed", "stix_modified").
		From(table).Where(dbx.HashExp{"domain": EnterpriseDomain}).WithContext(ctx).All(&rows)
	if err != nil {
		return nil, err
	}
	m := make(map[string]existingRow, len(rows))
	for _, r := range rows {
		m[r.StixID] = r
	}
	return m, nil
}

func fold(parts ...string) string { return db.Fold(strings.Join(parts, " ")) }

func (s *Service) apply(ctx context.Context, tx *dbx.Tx, b *Bundle) (Changes, error) {
	ch := Changes{Added: []Change{}, Renamed: []Change{}, Revoked: []Change{}, Deprecated: []Change{}, Removed: []Change{}, Restored: []Change{}}
	now := db.NewTime(s.now())
	extByStix := map[string]string{}
	for _, t := range b.Techniques {
		extByStix[t.StixID] = t.ExternalID
	}
	for _, t := range b.Subtechniques {
		extByStix[t.StixID] = t.ExternalID
	}

	// track records the change kinds of one object.
	track := func(kind string, old existingRow, exists bool, ext, name string, revoked, deprecated bool, revokedBy string) {
		c := Change{Kind: kind, ExternalID: ext, Name: name}
		switch {
		case !exists:
			ch.Added = append(ch.Added, c)
			return
		case old.Removed:
			ch.Restored = append(ch.Restored, c)
		}
		if old.Name != name {
			r := c
			r.OldName = old.Name
			ch.Renamed = append(ch.Renamed, r)
		}
		if revoked && !old.Revoked {
			r := c
			r.ReplacedBy = extByStix[revokedBy]
			ch.Revoked = append(ch.Revoked, r)
		}
		if deprecated && !old.Deprecated {
			ch.Deprecated = append(ch.Deprecated, c)
		}
	}

	// upsert writes one row, keeping the primary key of an existing STIX id.
	upsert := func(table string, existing map[string]existingRow, stixID, ext string, cols dbx.Params) (string, error) {
		if old, ok := existing[stixID]; ok {
			if old.ExternalID != ext {
				if err := freeExternalID(ctx, tx, table, ext, stixID); err != nil {
					return "", err
				}
			}
			cols["updated_at"] = now
			_, err := tx.Update(table, cols, dbx.HashExp{"id": old.ID}).WithContext(ctx).Execute()
			return old.ID, err
		}
		if err := freeExternalID(ctx, tx, table, ext, stixID); err != nil {
			return "", err
		}
		id := db.NewID()
		cols["id"], cols["stix_id"], cols["domain"], cols["created_at"], cols["updated_at"] = id, stixID, EnterpriseDomain, now, now
		_, err := tx.Insert(table, cols).WithContext(ctx).Execute()
		return id, err
	}

	// Tactics.
	oldTactics, err := loadExisting(ctx, tx, "mitre_tactics")
	if err != nil {
		return ch, err
	}
	tacticID := map[string]string{} // shortname → id
	seen := map[string]bool{}
	for _, t := range b.Tactics {
		old, ok := oldTactics[t.StixID]
		track("tactic", old, ok, t.ExternalID, t.Name, t.Revoked, t.Deprecated, "")
		id, err := upsert("mitre_tactics", oldTactics, t.StixID, t.ExternalID, dbx.Params{
			"external_id": t.ExternalID, "shortname": t.Shortname, "name": t.Name, "description": t.Description,
			"url": t.URL, "matrix_position": t.Position, "revoked": t.Revoked, "deprecated": t.Deprecated, "removed": false,
			"stix_modified": nullable(t.Modified), "search_fold": fold(t.ExternalID, t.Shortname, t.Name),
		})
		if err != nil {
			return ch, fmt.Errorf("tactic %s: %w", t.ExternalID, err)
		}
		seen[t.StixID] = true
		if !t.Revoked && !t.Deprecated || tacticID[t.Shortname] == "" {
			tacticID[t.Shortname] = id
		}
	}
	if err := markRemoved(ctx, tx, "mitre_tactics", "tactic", oldTactics, seen, now, &ch); err != nil {
		return ch, err
	}

	// Techniques, then subtechniques (which reference them).
	oldTech, err := loadExisting(ctx, tx, "mitre_techniques")
	if err != nil {
		return ch, err
	}
	techID := map[string]string{}    // stix id → row id
	techByExt := map[string]string{} // external id → row id
	seen = map[string]bool{}
	for _, t := range b.Techniques {
		old, ok := oldTech[t.StixID]
		track("technique", old, ok, t.ExternalID, t.Name, t.Revoked, t.Deprecated, t.RevokedBy)
		id, err := upsert("mitre_techniques", oldTech, t.StixID, t.ExternalID, techCols(t))
		if err != nil {
			return ch, fmt.Errorf("technique %s: %w", t.ExternalID, err)
		}
		techID[t.StixID], techByExt[t.ExternalID] = id, id
		seen[t.StixID] = true
	}
	if err := markRemoved(ctx, tx, "mitre_techniques", "technique", oldTech, seen, now, &ch); err != nil {
		return ch, err
	}
	// Links: replaced wholesale for the domain's techniques.
	if _, err := tx.NewQuery(`DELETE FROM mitre_technique_tactics WHERE technique_id IN
		(SELECT id FROM mitre_techniques WHERE domain = {:d})`).Bind(dbx.Params{"d": EnterpriseDomain}).WithContext(ctx).Execute(); err != nil {
		return ch, err
	}
	for _, t := range b.Techniques {
		for _, short := range t.Tactics {
			tid, ok := tacticID[short]
			if !ok {
				continue // a phase of another matrix: ignore, as ATT&CK's own site does
			}
			if _, err := tx.Insert("mitre_technique_tactics", dbx.Params{"technique_id": techID[t.StixID], "tactic_id": tid}).
				WithContext(ctx).Execute(); err != nil {
				return ch, fmt.Errorf("link %s → %s: %w", t.ExternalID, short, err)
			}
		}
	}

	oldSub, err := loadExisting(ctx, tx, "mitre_subtechniques")
	if err != nil {
		return ch, err
	}
	seen = map[string]bool{}
	for _, t := range b.Subtechniques {
		old, ok := oldSub[t.StixID]
		track("subtechnique", old, ok, t.ExternalID, t.Name, t.Revoked, t.Deprecated, t.RevokedBy)
		cols := techCols(t)
		// Parent: subtechnique-of first, else the id prefix (T1059.001 → T1059).
		parent := techID[t.ParentStixID]
		if parent == "" {
			prefix, _, _ := strings.Cut(t.ExternalID, ".")
			parent = techByExt[prefix]
		}
		if parent == "" {
			prefix, _, _ := strings.Cut(t.ExternalID, ".")
			var id string
			err := tx.Select("id").From("mitre_techniques").Where(dbx.HashExp{"external_id": prefix}).WithContext(ctx).Row(&id)
			if err == nil {
				parent = id
			}
		}
		cols["technique_id"] = nullable(parent)
		if _, err := upsert("mitre_subtechniques", oldSub, t.StixID, t.ExternalID, cols); err != nil {
			return ch, fmt.Errorf("subtechnique %s: %w", t.ExternalID, err)
		}
		seen[t.StixID] = true
	}
	if err := markRemoved(ctx, tx, "mitre_subtechniques", "subtechnique", oldSub, seen, now, &ch); err != nil {
		return ch, err
	}
	return ch, nil
}

func techCols(t Technique) dbx.Params {
	return dbx.Params{
		"external_id": t.ExternalID, "name": t.Name, "description": t.Description, "url": t.URL,
		"platforms": string(db.MustJSON(t.Platforms)), "revoked": t.Revoked, "deprecated": t.Deprecated, "removed": false,
		"revoked_by_stix_id": nullable(t.RevokedBy), "stix_modified": nullable(t.Modified),
		"search_fold": fold(t.ExternalID, t.Name),
	}
}

// freeExternalID moves an external id away from a row of another STIX
// object (ATT&CK reassigned it), so the unique key lets the new owner in.
func freeExternalID(ctx context.Context, tx *dbx.Tx, table, ext, stixID string) error {
	var rows []existingRow
	if err := tx.Select("id", "stix_id", "external_id", "name", "revoked", "deprecated", "removed", "stix_modified").From(table).
		Where(dbx.And(dbx.HashExp{"external_id": ext}, dbx.Not(dbx.HashExp{"stix_id": stixID}))).WithContext(ctx).All(&rows); err != nil {
		return err
	}
	for _, r := range rows {
		moved := ext + "~" + strings.TrimPrefix(r.StixID, "attack-pattern--")[:8]
		if _, err := tx.Update(table, dbx.Params{"external_id": moved, "removed": true}, dbx.HashExp{"id": r.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
	}
	return nil
}

// markRemoved flags rows of objects the bundle no longer has. They stay, so
// template tags pointing at them keep resolving.
func markRemoved(ctx context.Context, tx *dbx.Tx, table, kind string, old map[string]existingRow, seen map[string]bool, now db.Time, ch *Changes) error {
	var gone []existingRow
	for stix, r := range old {
		if !seen[stix] && !r.Removed {
			gone = append(gone, r)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].ExternalID < gone[j].ExternalID })
	for _, r := range gone {
		if _, err := tx.Update(table, dbx.Params{"removed": true, "updated_at": now}, dbx.HashExp{"id": r.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		ch.Removed = append(ch.Removed, Change{Kind: kind, ExternalID: r.ExternalID, Name: r.Name})
	}
	return nil
}

func countCatalogue(ctx context.Context, b dbx.Builder) (Counts, error) {
	var c Counts
	q := func(sql string, dst *int) error {
		return b.NewQuery(sql).WithContext(ctx).Row(dst)
	}
	active := " WHERE revoked = FALSE AND deprecated = FALSE AND removed = FALSE"
	for _, x := range []struct {
		sql string
		dst *int
	}{
		{"SELECT COUNT(*) FROM mitre_tactics" + active, &c.Tactics},
		{"SELECT COUNT(*) FROM mitre_techniques", &c.Techniques},
		{"SELECT COUNT(*) FROM mitre_subtechniques", &c.Subtechniques},
		{"SELECT COUNT(*) FROM mitre_techniques" + active, &c.ActiveTechniques},
		{"SELECT COUNT(*) FROM mitre_subtechniques" + active, &c.ActiveSubtechniques},
	} {
		if err := q(x.sql, x.dst); err != nil {
			return c, err
		}
	}
	return c, nil
}

// affectedTags lists template tags pointing at revoked, deprecated or
// removed catalogue entries.
func affectedTags(ctx context.Context, b dbx.Builder) ([]AffectedTag, error) {
	out := []AffectedTag{}
	for _, k := range []struct{ kind, table, col string }{
		{"tactic", "mitre_tactics", "tactic_id"},
		{"technique", "mitre_techniques", "technique_id"},
		{"subtechnique", "mitre_subtechniques", "subtechnique_id"},
	} {
		revokedBy := "m.revoked_by_stix_id"
		if k.kind == "tactic" {
			revokedBy = "m.revoked_by_stix_id"
		}
		var rows []AffectedTag
		err := b.NewQuery(`SELECT tt.id AS test_template_id, tt.name AS test_template_name, '` + k.kind + `' AS kind,
			m.external_id, m.name, m.revoked, m.deprecated, m.removed, COALESCE(` + revokedBy + `, '') AS revoked_by_stix_id
			FROM test_template_mitre_tags tag
			JOIN test_templates tt ON tt.id = tag.test_template_id AND tt.deleted_at IS NULL
			JOIN ` + k.table + ` m ON m.id = tag.` + k.col + `
			WHERE m.revoked = TRUE OR m.deprecated = TRUE OR m.removed = TRUE
			ORDER BY tt.name, m.external_id`).WithContext(ctx).All(&rows)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			r.State = State(r.Revoked, r.Deprecated, r.Removed)
			if r.RevokedBy != "" {
				var ext string
				for _, t := range []string{"mitre_techniques", "mitre_subtechniques"} {
					if b.Select("external_id").From(t).Where(dbx.HashExp{"stix_id": r.RevokedBy}).WithContext(ctx).Row(&ext) == nil {
						break
					}
				}
				r.ReplacedBy = ext
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// State names a catalogue object's state from its flags, the one rule for
// it: revoked wins over deprecated, which wins over removed (gone from the
// latest bundle); otherwise "active".
func State(revoked, deprecated, removed bool) string {
	switch {
	case revoked:
		return "revoked"
	case deprecated:
		return "deprecated"
	case removed:
		return "removed"
	}
	return "active"
}

// LastSync returns the stored sync record, or nil when never synced.
func (s *Service) LastSync(ctx context.Context) (*SyncInfo, error) {
	var raw string
	err := s.db.Read.Select("value").From("settings").Where(dbx.HashExp{"key": "mitre_sync"}).WithContext(ctx).Row(&raw)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return nil, nil
		}
		return nil, err
	}
	var info SyncInfo
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return nil, fmt.Errorf("mitre: stored sync record: %w", err)
	}
	return &info, nil
}
