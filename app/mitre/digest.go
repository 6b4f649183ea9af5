package mitre

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// The canonical digest names an ATT&CK release by its content, so that the
// same release is recognised whatever file it arrives in: mitre/cti's STIX
// 2.0 bundle, attack-stix-data's STIX 2.1 file (which adds spec_version to
// every object and an x-mitre-collection object), gzip-compressed, with
// another bundle id, other whitespace or another object order. It is
// defined as (docs/API.md, "ATT&CK verification"):
//
//  1. For every element of the bundle's "objects" array whose "type" is not
//     "x-mitre-collection" (the collection is the wrapper: it only lists the
//     other objects), take the pair (id, T), where T is the object's
//     "modified" timestamp, or its "created" one when it has no "modified"
//     (marking definitions), or "" when it has neither.
//  2. T is normalised: parsed as RFC 3339 and written back in UTC as Go's
//     time.RFC3339Nano (fractional seconds without trailing zeros), so
//     "2025-10-24T14:23:45.100Z" and "2025-10-24T14:23:45.1Z" agree; text
//     that does not parse is kept as it is.
//  3. Each pair becomes the line id + TAB + T + LF (UTF-8); the lines are
//     sorted bytewise (duplicates kept) and concatenated.
//  4. The digest is the lowercase hex SHA-256 of that text.
//
// STIX bumps "modified" whenever an object changes, so a changed, added or
// removed object changes the digest. It identifies a release; it is not a
// signature over every byte: an object edited without touching its
// "modified" keeps the digest. The sha256 of the file (or of its
// uncompressed content) is the stronger check when the publisher gives one.

// canonicalPairs collects the lines of the digest while a bundle streams.
type canonicalPairs struct{ lines []string }

func (c *canonicalPairs) add(o *rawObject) {
	if o.Type == "x-mitre-collection" {
		return
	}
	t := o.Modified
	if t == "" {
		t = o.Created
	}
	c.lines = append(c.lines, o.ID+"\t"+canonicalTime(t)+"\n")
}

func (c *canonicalPairs) digest() string {
	sort.Strings(c.lines)
	h := sha256.New()
	for _, l := range c.lines {
		_, _ = h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalTime normalises a STIX timestamp (step 2 above).
func canonicalTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}
