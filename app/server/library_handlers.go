package server

import (
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/uptrace/bunrouter"
)

// Atomic Red Team import and library exchange.
func (s *Server) libraryRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/test-templates/import/atomics", Access: Permission, Perm: "test_template.create",
			Limit: templates.MaxAtomicBytes, h: s.importAtomics, Summary: "Import Atomic Red Team tests (YAML files, zip or tar.gz)",
			In: Form{"file": "file: one part per YAML, zip or tar.gz (required)"}, Out: templates.ImportReport{}},
		{Method: "GET", Path: "/library/export", Access: Permission, Perm: "test_template.read", h: s.exportLibrary, Summary: "Export templates and scenarios as a library document (download)",
			Query: []string{"template_ids: ids (comma separated; none = all)", "scenario_ids: ids (comma separated)"}, Out: templates.Library{}},
		{Method: "POST", Path: "/library/import", Access: Permission, Perm: "test_template.create",
			Limit: templates.MaxLibraryBytes, h: s.importLibrary, Summary: "Import a library document",
			In: Alt{templates.Library{}, Form{"file": "file: the library document (required)"}}, Out: templates.LibraryReport{}},
	}
}

// maxAtomicParts bounds the multipart parts of one Atomic import.
const maxAtomicParts = 1000

// importAtomics takes multipart/form-data with one or more "file" parts:
// YAML files, zip or tar.gz archives (recognised by content). Each part is
// read as it streams in, within the route's body limit; the import runs in
// one transaction once every part has been read and parsed, so a rejected
// archive imports nothing.
func (s *Server) importAtomics(w http.ResponseWriter, req bunrouter.Request) error {
	if !isMultipart(req) {
		return apperr.New(apperr.ErrBadRequest, "unsupported_media_type",
			`Send the Atomic files as multipart/form-data, one "file" part per YAML file, zip or tar.gz.`)
	}
	c := s.opts.Templates.NewAtomicCollector()
	parts := 0
	err := eachPart(req, func(part *multipart.Part) error {
		if part.FormName() != "file" {
			return apperr.BadRequest("unknown_field", "Unknown form field %q; send the files as \"file\" parts.", cleanPath(part.FormName())).
				WithDetails(map[string]any{cleanPath(part.FormName()): "unknown field"})
		}
		if parts++; parts > maxAtomicParts {
			return apperr.BadRequest("too_many_parts", "Send at most %d files; put more in a zip or tar.gz.", maxAtomicParts)
		}
		name := sanitizeName(part.FileName())
		if name == "" {
			name = "upload"
		}
		return c.Add(name, part)
	})
	if err != nil {
		return err
	}
	if parts == 0 {
		return &apperr.Invalid{Message: `Attach the Atomic files as "file" parts.`, Fields: map[string]string{"file": "is required"}}
	}
	rep, err := s.opts.Templates.ImportAtomicFiles(req.Context(), principal(req).Actor(meta(req)), c)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// queryIDs reads a comma-separated list of ids ("" → none).
func queryIDs(req bunrouter.Request, name string) ([]string, error) {
	v, _, err := queryValue(req, name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	if len(out) > templates.MaxLibraryTemplates {
		return nil, badQuery(name, "lists too many ids")
	}
	return out, nil
}

// exportLibrary answers GET /library/export?template_ids=a,b&scenario_ids=c
// with one JSON document; exporting scenarios needs scenario_template.read
// besides the route's test_template.read.
func (s *Server) exportLibrary(w http.ResponseWriter, req bunrouter.Request) error {
	tplIDs, err := queryIDs(req, "template_ids")
	if err != nil {
		return err
	}
	scIDs, err := queryIDs(req, "scenario_ids")
	if err != nil {
		return err
	}
	if len(scIDs) > 0 && !principal(req).Can("scenario_template.read") {
		return apperr.New(apperr.ErrForbidden, "forbidden", "Exporting scenario templates needs the scenario_template.read permission.")
	}
	doc, err := s.opts.Templates.ExportLibrary(req.Context(), templates.ExportParams{TemplateIDs: tplIDs, ScenarioIDs: scIDs, AppVersion: s.opts.Version})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="purplebook-library-`+compactStamp(doc.ExportedAt)+`.json"`)
	return writeJSON(w, http.StatusOK, doc)
}

// compactStamp turns 2026-01-02T15:04:05.000Z into 20260102-150405.
func compactStamp(t string) string {
	t = strings.NewReplacer("-", "", ":", "", "Z", "").Replace(t)
	if i := strings.IndexByte(t, '.'); i >= 0 {
		t = t[:i]
	}
	return strings.Replace(t, "T", "-", 1)
}

// importLibrary takes the document as the JSON body, or as the "file" part
// of a multipart upload. Importing scenarios needs scenario_template.create
// besides the route's test_template.create. Bad documents are a 422 that
// lists the problems; nothing is written.
func (s *Server) importLibrary(w http.ResponseWriter, req bunrouter.Request) error {
	var doc *templates.Library
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch {
	case mt == "multipart/form-data":
		err := eachPart(req, func(part *multipart.Part) error {
			if part.FormName() != "file" {
				return apperr.BadRequest("unknown_field", "Unknown form field %q; send the document as the \"file\" part.", cleanPath(part.FormName())).
					WithDetails(map[string]any{cleanPath(part.FormName()): "unknown field"})
			}
			var err error
			if doc, err = templates.DecodeLibrary(part); err != nil {
				return err
			}
			return errStopParts
		})
		if err != nil {
			return err
		}
		if doc == nil {
			return &apperr.Invalid{Message: `Attach the library document as the "file" part.`, Fields: map[string]string{"file": "is required"}}
		}
	case mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json"):
		return apperr.New(apperr.ErrBadRequest, "unsupported_media_type", "Send the library document as application/json.")
	default:
		var err error
		if doc, err = templates.DecodeLibrary(req.Body); err != nil {
			return err
		}
	}
	if doc.HasScenarios() && !principal(req).Can("scenario_template.create") {
		return apperr.New(apperr.ErrForbidden, "forbidden", "This document holds scenario templates; importing them needs the scenario_template.create permission.")
	}
	rep, err := s.opts.Templates.ImportLibrary(req.Context(), principal(req).Actor(meta(req)), doc)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}
