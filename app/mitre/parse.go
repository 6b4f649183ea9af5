// Package mitre is the MITRE ATT&CK catalogue: a streaming STIX importer
// (2.0 and 2.1 bundles, plain or gzip), a pinned and verified sync that
// never deletes a row, and the read queries behind the catalogue API.
package mitre

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
)

// EnterpriseDomain is the ATT&CK domain this catalogue holds.
const EnterpriseDomain = "enterprise-attack"

// Bundle is what a STIX bundle contributes to the catalogue.
type Bundle struct {
	SpecVersion       string // "2.0" (version on the bundle) or "2.1" (version per object)
	Domain            string // e.g. enterprise-attack
	CollectionVersion string // x_mitre_version of the x-mitre-collection; "" when absent
	MatrixName        string
	Tactics           []Tactic // in matrix order
	Techniques        []Technique
	Subtechniques     []Technique
	Objects           int // objects read
	// CanonicalDigest identifies the release by content, whatever its
	// serialisation (see CanonicalDigest).
	CanonicalDigest string
	SHA256          string // of the uncompressed bundle
	FileSHA256      string // of the bytes as read (differs for gzip)
	Compressed      bool
}

// Tactic is an x-mitre-tactic.
type Tactic struct {
	StixID, ExternalID, Shortname, Name, Description, URL string
	Position                                              int
	Revoked, Deprecated                                   bool
	Modified                                              string
}

// Technique is an attack-pattern (technique or subtechnique).
type Technique struct {
	StixID, ExternalID, Name, Description, URL string
	Platforms                                  []string
	Tactics                                    []string // tactic shortnames from kill_chain_phases, sorted
	Subtechnique                               bool
	ParentStixID                               string // subtechniques: from subtechnique-of
	Revoked, Deprecated                        bool
	RevokedBy                                  string // stix id of the replacement
	Modified                                   string
}

// Active reports whether the object is neither revoked nor deprecated.
func (t Technique) Active() bool { return !t.Revoked && !t.Deprecated }

// ParseError is a bundle that cannot be imported; its message is meant for users.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

func parseErr(format string, args ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, args...)}
}

// rawObject holds only the STIX fields the catalogue needs; the decoder
// skips the rest without building maps.
type rawObject struct {
	Type               string   `json:"type"`
	ID                 string   `json:"id"`
	SpecVersion        string   `json:"spec_version"`
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	Modified           string   `json:"modified"`
	Created            string   `json:"created"`
	Revoked            bool     `json:"revoked"`
	Deprecated         bool     `json:"x_mitre_deprecated"`
	IsSubtechnique     bool     `json:"x_mitre_is_subtechnique"`
	Shortname          string   `json:"x_mitre_shortname"`
	Platforms          []string `json:"x_mitre_platforms"`
	Version            string   `json:"x_mitre_version"`
	TacticRefs         []string `json:"tactic_refs"`
	RelationshipType   string   `json:"relationship_type"`
	SourceRef          string   `json:"source_ref"`
	TargetRef          string   `json:"target_ref"`
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
		URL        string `json:"url"`
	} `json:"external_references"`
	KillChainPhases []struct {
		KillChainName string `json:"kill_chain_name"`
		PhaseName     string `json:"phase_name"`
	} `json:"kill_chain_phases"`
}

func (o *rawObject) mitreRef() (id, url string) {
	for _, r := range o.ExternalReferences {
		if r.SourceName == "mitre-attack" || r.SourceName == "mitre-ics-attack" || r.SourceName == "mitre-mobile-attack" {
			return r.ExternalID, r.URL
		}
	}
	return "", ""
}

// countingReader counts bytes for progress reports.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}

// Parse reads a STIX bundle (JSON, or gzip-compressed JSON) from r as a
// stream: objects are decoded one at a time, never as one generic document.
// progress, when not nil, gets the number of bytes read from r so far.
func Parse(r io.Reader, progress func(read int64)) (*Bundle, error) {
	fileHash := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, fileHash), progress: progress}
	br := bufio.NewReaderSize(cr, 256<<10)
	magic, err := br.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, parseErr("the file is empty")
		}
		return nil, err
	}
	var src io.Reader = br
	compressed := magic[0] == 0x1f && magic[1] == 0x8b
	if compressed {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, parseErr("the file looks gzip-compressed but cannot be read: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	contentHash := sha256.New()
	ar := newAsyncReader(io.TeeReader(src, contentHash), 256<<10, 8)
	defer ar.Close()
	b, err := parseStream(ar)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		if compressed && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader)) {
			return nil, parseErr("the gzip file is truncated or corrupt")
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, parseErr("not a STIX bundle: invalid JSON at byte %d", syn.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, parseErr("the bundle ends too early (truncated file)")
		}
		return nil, err
	}
	// Drain so both hashes cover the whole input (and gzip verifies its CRC).
	if _, err := io.Copy(io.Discard, ar); err != nil {
		if compressed && !errors.Is(err, apperr.ErrTooLarge) {
			return nil, parseErr("the gzip file is truncated or corrupt")
		}
		return nil, err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, err
	}
	b.SHA256 = hexSum(contentHash)
	b.FileSHA256 = hexSum(fileHash)
	b.Compressed = compressed
	return b, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func parseStream(r io.Reader) (*Bundle, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, parseErr("the file is empty")
		}
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, parseErr("not a STIX bundle: the document is not a JSON object")
	}
	b := &Bundle{}
	var bundleType, bundleSpec string
	var objects []rawObject
	var canon canonicalPairs
	sawObjects := false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		switch key {
		case "type":
			if err := dec.Decode(&bundleType); err != nil {
				return nil, parseErr("not a STIX bundle: \"type\" is not a string")
			}
		case "spec_version":
			if err := dec.Decode(&bundleSpec); err != nil {
				return nil, parseErr("not a STIX bundle: \"spec_version\" is not a string")
			}
		case "objects":
			sawObjects = true
			if err := readObjects(dec, &b.Objects, &canon, func(o rawObject) { objects = append(objects, o) }); err != nil {
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // closing }
		return nil, err
	}
	if bundleType != "bundle" {
		return nil, parseErr("not a STIX bundle: the top-level \"type\" is %q, expected \"bundle\"", bundleType)
	}
	if !sawObjects {
		return nil, parseErr("not a STIX bundle: it has no \"objects\" array")
	}
	b.CanonicalDigest = canon.digest()
	return assemble(b, bundleSpec, objects)
}

// readObjects decodes the objects array element by element. Objects of
// types the catalogue does not use are still decoded into the small struct,
// which skips their fields; every object adds its pair to canon.
func readObjects(dec *json.Decoder, count *int, canon *canonicalPairs, fn func(rawObject)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return parseErr("not a STIX bundle: \"objects\" is not an array")
	}
	for dec.More() {
		var o rawObject
		*count++
		if err := dec.Decode(&o); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return parseErr("not a STIX bundle: an object has a field %q of the wrong type", te.Field)
			}
			return err
		}
		canon.add(&o)
		switch o.Type {
		case "attack-pattern", "x-mitre-tactic", "x-mitre-matrix", "x-mitre-collection", "relationship":
			if o.Type == "relationship" && o.RelationshipType != "subtechnique-of" && o.RelationshipType != "revoked-by" {
				continue
			}
			o.Description = strings.TrimSpace(o.Description)
			fn(o)
		}
	}
	_, err = dec.Token() // closing ]
	return err
}

var killChainDomain = map[string]string{
	"mitre-attack":        EnterpriseDomain,
	"mitre-ics-attack":    "ics-attack",
	"mitre-mobile-attack": "mobile-attack",
}

func assemble(b *Bundle, bundleSpec string, objects []rawObject) (*Bundle, error) {
	b.SpecVersion = bundleSpec
	var matrix *rawObject
	tactics := map[string]*rawObject{}
	parents := map[string]string{}
	revokedBy := map[string]string{}
	var patterns []*rawObject
	for i := range objects {
		o := &objects[i]
		if b.SpecVersion == "" && o.SpecVersion != "" {
			b.SpecVersion = o.SpecVersion
		}
		switch o.Type {
		case "x-mitre-matrix":
			if matrix == nil || !o.Revoked && !o.Deprecated {
				matrix = o
			}
		case "x-mitre-collection":
			b.CollectionVersion = o.Version
		case "x-mitre-tactic":
			tactics[o.ID] = o
		case "attack-pattern":
			patterns = append(patterns, o)
		case "relationship":
			switch o.RelationshipType {
			case "subtechnique-of":
				parents[o.SourceRef] = o.TargetRef
			case "revoked-by":
				revokedBy[o.SourceRef] = o.TargetRef
			}
		}
	}
	if b.SpecVersion != "2.0" && b.SpecVersion != "2.1" {
		if b.SpecVersion == "" {
			return nil, parseErr("not a STIX bundle: no spec_version on the bundle (STIX 2.0) or on its objects (STIX 2.1)")
		}
		return nil, parseErr("unsupported STIX version %q: Purplebook reads STIX 2.0 and 2.1 bundles", b.SpecVersion)
	}
	if len(patterns) == 0 {
		return nil, parseErr("the bundle contains no ATT&CK techniques (attack-pattern objects)")
	}
	// Domain: from the matrix's external id, else from the kill chain names.
	if matrix != nil {
		b.MatrixName = matrix.Name
		if id, _ := matrix.mitreRef(); id != "" {
			b.Domain = id
		}
	}
	if b.Domain == "" {
		for _, p := range patterns {
			for _, k := range p.KillChainPhases {
				if d, ok := killChainDomain[k.KillChainName]; ok {
					b.Domain = d
				}
			}
		}
	}
	if b.Domain == "" {
		return nil, parseErr("cannot tell which ATT&CK domain the bundle belongs to (no matrix and no known kill chain)")
	}
	if len(tactics) == 0 {
		return nil, parseErr("the bundle contains no ATT&CK tactics (x-mitre-tactic objects)")
	}

	// Tactics in matrix order; tactics the matrix does not list go last by
	// external id, so a partial bundle still imports deterministically.
	pos := map[string]int{}
	if matrix != nil {
		for i, ref := range matrix.TacticRefs {
			pos[ref] = i + 1
		}
	}
	for _, t := range tactics {
		ext, url := t.mitreRef()
		if ext == "" {
			return nil, parseErr("tactic %s has no ATT&CK external id", t.ID)
		}
		b.Tactics = append(b.Tactics, Tactic{StixID: t.ID, ExternalID: ext, Shortname: t.Shortname, Name: t.Name,
			Description: t.Description, URL: url, Position: pos[t.ID], Revoked: t.Revoked, Deprecated: t.Deprecated, Modified: t.Modified})
	}
	sort.Slice(b.Tactics, func(i, j int) bool {
		pi, pj := b.Tactics[i].Position, b.Tactics[j].Position
		if (pi == 0) != (pj == 0) {
			return pi != 0
		}
		if pi != pj {
			return pi < pj
		}
		return b.Tactics[i].ExternalID < b.Tactics[j].ExternalID
	})
	for i := range b.Tactics {
		b.Tactics[i].Position = i + 1
	}

	seenExt := map[string]string{}
	for _, p := range patterns {
		ext, url := p.mitreRef()
		if ext == "" {
			return nil, parseErr("technique %s (%q) has no ATT&CK external id", p.ID, p.Name)
		}
		if other, dup := seenExt[ext]; dup && other != p.ID {
			return nil, parseErr("external id %s is used by two objects (%s and %s)", ext, other, p.ID)
		}
		seenExt[ext] = p.ID
		t := Technique{StixID: p.ID, ExternalID: ext, Name: p.Name, Description: p.Description, URL: url,
			Platforms: p.Platforms, Revoked: p.Revoked, Deprecated: p.Deprecated, RevokedBy: revokedBy[p.ID], Modified: p.Modified}
		if t.Platforms == nil {
			t.Platforms = []string{}
		}
		seen := map[string]bool{}
		for _, k := range p.KillChainPhases {
			if !seen[k.PhaseName] && k.PhaseName != "" {
				seen[k.PhaseName] = true
				t.Tactics = append(t.Tactics, k.PhaseName)
			}
		}
		sort.Strings(t.Tactics)
		// x_mitre_is_subtechnique is authoritative; a dotted id backs it up
		// for objects that lack the flag.
		t.Subtechnique = p.IsSubtechnique || strings.Contains(ext, ".")
		if t.Subtechnique {
			t.ParentStixID = parents[p.ID]
			b.Subtechniques = append(b.Subtechniques, t)
		} else {
			b.Techniques = append(b.Techniques, t)
		}
	}
	sort.Slice(b.Techniques, func(i, j int) bool { return b.Techniques[i].ExternalID < b.Techniques[j].ExternalID })
	sort.Slice(b.Subtechniques, func(i, j int) bool { return b.Subtechniques[i].ExternalID < b.Subtechniques[j].ExternalID })
	return b, nil
}

var errNoRows = sql.ErrNoRows

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
