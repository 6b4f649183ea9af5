// Package bundle is the Purplebook bundle format, whatever a bundle carries:
// one zip file (.pbz) holding a signed manifest.json, JSON documents and
// content-addressed blobs. It knows nothing about missions, libraries or
// backups; those kinds build on it (app/bundle/missionbundle, …) and only
// decide which documents and blobs go in.
//
// What this package owns, for every kind:
//   - the manifest (format version, kind, versions, source instance, every
//     entry's path, size and sha256) and its ed25519 signature;
//   - a streaming writer: entries go straight to the output, hashed on the
//     way, stored (not deflated) when they are already compressed;
//   - a verifying reader: hostile paths, symlinks, duplicates, entries
//     outside the manifest, sizes over the limits, a newer format, a bad
//     signature or a single changed byte are refused before anything is
//     used;
//   - the instance identity (id, name, key pair, sync clock), the list of
//     trusted keys, and the staging area for uploaded bundles.
//
// docs/BUNDLES.md describes the format.
package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
)

// FormatVersion is the bundle format this build writes and the newest it
// reads.
const FormatVersion = 1

// Kinds of bundle.
const (
	KindMission  = "mission"
	KindLibrary  = "library"
	KindInstance = "instance"
)

// Kinds lists the kinds format version 1 defines.
var Kinds = []string{KindMission, KindLibrary, KindInstance}

// Names of the two entries that describe the bundle; every other entry is
// listed in the manifest.
const (
	ManifestPath  = "manifest.json"
	SignaturePath = "manifest.sig"
)

// Entry is one file of the bundle as the manifest lists it.
type Entry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Source is the instance that made (and signed) the bundle.
type Source struct {
	InstanceID   string `json:"instance_id"`
	InstanceName string `json:"instance_name"`
	PublicKey    string `json:"public_key"` // ed25519, standard base64
}

// Manifest describes a bundle. Meta is the kind's own header (for a mission:
// its id, name, export options and the exporter's sync clock).
type Manifest struct {
	FormatVersion int             `json:"format_version"`
	Kind          string          `json:"kind"`
	AppVersion    string          `json:"app_version"`
	SchemaVersion int             `json:"schema_version"`
	CreatedAt     string          `json:"created_at"` // RFC 3339, UTC
	Source        Source          `json:"source"`
	Meta          json.RawMessage `json:"meta"`
	Entries       []Entry         `json:"entries"`
}

// Signature is the content of manifest.sig: an ed25519 signature over the
// exact bytes of manifest.json, by the key named in the manifest's source.
type Signature struct {
	Algorithm string `json:"algorithm"` // "ed25519"
	Signature string `json:"signature"` // standard base64 of the 64-byte signature
}

// Fingerprint names a public key the way people compare keys:
// "SHA256:" and the unpadded base64 of the key's sha256 (as OpenSSH does).
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// ParsePublicKey decodes a standard-base64 ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("not an ed25519 public key (32 bytes in base64)")
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey is the inverse of ParsePublicKey.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// Limits bound what a reader accepts. Every size is of uncompressed bytes,
// as the zip headers declare them and as actually read: an entry that
// inflates beyond its declared size is cut off and refused.
type Limits struct {
	MaxEntries       int   // entries in the zip, manifest and signature included
	MaxEntryBytes    int64 // one entry
	MaxTotalBytes    int64 // all entries together
	MaxManifestBytes int64 // manifest.json
	MaxDocumentBytes int64 // one JSON document a kind reads into memory
}

// DefaultImportBytes is the largest bundle content DefaultLimits accept.
const DefaultImportBytes = 64 << 30

// DefaultLimits suit engagement bundles: up to 200,000 entries, 8 GiB per
// entry (the largest evidence file an instance accepts), 64 GiB in all.
var DefaultLimits = Limits{
	MaxEntries:       200_000,
	MaxEntryBytes:    8 << 30,
	MaxTotalBytes:    DefaultImportBytes,
	MaxManifestBytes: 64 << 20,
	MaxDocumentBytes: 512 << 20,
}

// maxPathLen and maxPathDepth bound entry names.
const (
	maxPathLen   = 200
	maxPathDepth = 4
)

// ValidPath reports whether p may name a bundle entry: slash-separated
// segments of lowercase letters, digits, '.', '_' and '-', each starting
// with a letter or digit, at most four deep and 200 bytes long. That rules
// out absolute paths, "..", backslashes, drive letters, colons and names
// that differ only in case, whatever the platform that extracts them.
func ValidPath(p string) bool {
	if p == "" || len(p) > maxPathLen {
		return false
	}
	segs := strings.Split(p, "/")
	if len(segs) > maxPathDepth {
		return false
	}
	for _, s := range segs {
		if s == "" || !isAlnum(s[0]) {
			return false
		}
		for i := 1; i < len(s); i++ {
			if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// ValidSHA256 reports whether s is a sha256 in lowercase hex.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Invalid is a bundle the reader refuses: 422 with a code saying which rule
// it broke and, where one is to blame, the entry.
func Invalid(code, entry, format string, args ...any) *apperr.Error {
	e := apperr.Unprocessable(code, format, args...)
	d := map[string]any{"reason": code}
	if entry != "" {
		d["entry"] = printable(entry)
	}
	return e.WithDetails(d)
}

// printable shortens a name from a hostile archive for messages.
func printable(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
