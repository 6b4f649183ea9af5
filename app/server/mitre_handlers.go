package server

import (
	"github.com/purplebook/purplebook/app/db"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/text"
	"github.com/uptrace/bunrouter"
)

func (s *Server) mitreRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/mitre/status", Access: Authenticated, h: s.mitreStatus, Summary: "Catalogue status: version, source, digest, verification, counts", Out: mitre.Status{}},
		{Method: "GET", Path: "/mitre/tactics", Access: Authenticated, h: s.mitreTactics, Summary: "Tactics in matrix order", Query: []string{"include_deprecated: true|false"}, Out: items[mitre.TacticView]{}},
		{Method: "GET", Path: "/mitre/techniques", Access: Authenticated, h: s.mitreTechniques, Summary: "Search techniques", Query: paged("tactic: tactic external id", "technique: technique external id", "q: search text", "include_deprecated: true|false"), Out: db.Page[mitre.TechniqueView]{}},
		{Method: "GET", Path: "/mitre/techniques/:external_id", Access: Authenticated, h: s.mitreTechnique, Summary: "A technique by external id (T1234)", Out: mitre.TechniqueView{}},
		{Method: "GET", Path: "/mitre/subtechniques", Access: Authenticated, h: s.mitreSubtechniques, Summary: "Search sub-techniques", Query: paged("tactic: tactic external id", "technique: technique external id", "q: search text", "include_deprecated: true|false"), Out: db.Page[mitre.TechniqueView]{}},
		{Method: "POST", Path: "/mitre/sync", Access: Permission, Perm: "mitre.sync", Limit: mitre.MaxBundleBytes + 1<<20, h: s.mitreSync,
			Summary: "Import an ATT&CK release (from a source, or uploaded)", Out: mitre.SyncResult{},
			In: Alt{mitre.SyncParams{}, Form{"file": "file: the STIX bundle, JSON or gzip (required)", "expected_sha256": "sha256 of the file", "version": "release version", "allow_unverified": "true|false"}}},
		{Method: "POST", Path: "/mitre/verify", Access: Permission, Perm: "mitre.sync", h: s.mitreVerify, Summary: "Verify the imported catalogue by its sha256", In: verifyRequest{}, Out: mitre.Status{}},
	}
}

func (s *Server) mitreStatus(w http.ResponseWriter, req bunrouter.Request) error {
	st, err := s.opts.Mitre.Status(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

type verifyRequest struct {
	SHA256 string `json:"sha256"`
}

// mitreVerify marks the imported catalogue verified by a sha256 of its
// bundle (file or content) or its canonical digest; answers the status.
func (s *Server) mitreVerify(w http.ResponseWriter, req bunrouter.Request) error {
	var in verifyRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if _, err := s.opts.Mitre.Verify(req.Context(), in.SHA256, principal(req).Actor(meta(req))); err != nil {
		return err
	}
	return s.mitreStatus(w, req)
}

func includeDeprecated(req bunrouter.Request) (bool, error) {
	b, err := queryBool(req, "include_deprecated")
	if err != nil || b == nil {
		return false, err
	}
	return *b, nil
}

// mitreCached answers a catalogue read from the catalogue's cache of encoded
// answers, keyed by the path and the raw query string: a repeated query is
// neither parsed nor encoded again (mitre.Service.CachedJSON). build parses
// the request and computes the answer on a miss; its errors are not cached.
func (s *Server) mitreCached(w http.ResponseWriter, req bunrouter.Request, build func(v *mitre.View) (any, error)) error {
	b, err := s.opts.Mitre.CachedJSON(req.Context(), req.URL.Path+"?"+req.URL.RawQuery, build)
	if err != nil {
		return err
	}
	return writeEncodedJSON(w, http.StatusOK, b)
}

func (s *Server) mitreTactics(w http.ResponseWriter, req bunrouter.Request) error {
	return s.mitreCached(w, req, func(v *mitre.View) (any, error) {
		inc, err := includeDeprecated(req)
		if err != nil {
			return nil, err
		}
		items := v.Tactics(inc)
		return itemsOf(items), nil
	})
}

func mitreListParams(req bunrouter.Request) (mitre.ListParams, error) {
	var p mitre.ListParams
	var err error
	if p.PageParams, err = pageParams(req); err != nil {
		return p, err
	}
	if p.IncludeDeprecated, err = includeDeprecated(req); err != nil {
		return p, err
	}
	if p.Tactic, err = queryString(req, "tactic"); err != nil {
		return p, err
	}
	if p.Technique, err = queryString(req, "technique"); err != nil {
		return p, err
	}
	p.Q, err = queryString(req, "q")
	return p, err
}

func (s *Server) mitreTechniques(w http.ResponseWriter, req bunrouter.Request) error {
	return s.mitreCached(w, req, func(v *mitre.View) (any, error) {
		p, err := mitreListParams(req)
		if err != nil {
			return nil, err
		}
		return v.Techniques(p)
	})
}

func (s *Server) mitreSubtechniques(w http.ResponseWriter, req bunrouter.Request) error {
	return s.mitreCached(w, req, func(v *mitre.View) (any, error) {
		p, err := mitreListParams(req)
		if err != nil {
			return nil, err
		}
		return v.Subtechniques(p)
	})
}

func (s *Server) mitreTechnique(w http.ResponseWriter, req bunrouter.Request) error {
	return s.mitreCached(w, req, func(v *mitre.View) (any, error) {
		return v.Technique(req.Param("external_id"))
	})
}

// mitreSync takes JSON {source, expected_sha256, allow_unverified, version}
// or a multipart upload: a "file" part with the bundle (plain or gzip) and
// optional fields of the same names. The file is parsed as it streams in;
// nothing is written unless it parses and verifies.
func (s *Server) mitreSync(w http.ResponseWriter, req bunrouter.Request) error {
	actor := principal(req).Actor(meta(req))
	if !isMultipart(req) {
		var p mitre.SyncParams
		if err := decodeJSON(req, &p); err != nil {
			return err
		}
		res, err := s.opts.Mitre.Sync(req.Context(), p, actor)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, res)
	}
	var p mitre.SyncParams
	var res *mitre.SyncResult
	err := eachPart(req, func(part *multipart.Part) error {
		switch part.FormName() {
		case "file":
			name := part.FileName()
			if name == "" {
				name = "upload"
			}
			// The sync reads the part as it arrives; fields after the file
			// are not seen, so the SPA sends them first.
			p.Upload, p.Source = part, "upload:"+sanitizeName(name)
			var err error
			if res, err = s.opts.Mitre.Sync(req.Context(), p, actor); err != nil {
				return err
			}
			return errStopParts
		case "expected_sha256", "version", "allow_unverified":
			v, err := formValue(part, 256)
			if err != nil {
				return err
			}
			val := strings.TrimSpace(v)
			switch part.FormName() {
			case "expected_sha256":
				p.ExpectedSHA256 = val
			case "version":
				p.Version = val
			case "allow_unverified":
				b, err := strconv.ParseBool(val)
				if err != nil {
					return apperr.BadRequest("invalid_field", "allow_unverified must be true or false.")
				}
				p.AllowUnverified = b
			}
			return nil
		default:
			return apperr.BadRequest("unknown_field", "Unknown form field %q.", cleanPath(part.FormName())).
				WithDetails(map[string]any{cleanPath(part.FormName()): "unknown field"})
		}
	})
	if err != nil {
		return err
	}
	if res == nil {
		return &apperr.Invalid{Message: "Attach the bundle as the \"file\" part.", Fields: map[string]string{"file": "is required"}}
	}
	return writeJSON(w, http.StatusOK, res)
}

// sanitizeName keeps an uploaded file name printable and short.
func sanitizeName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, n)
	return text.Truncate(n, 120)
}
