package server

import (
	"errors"
	"fmt"
	"github.com/purplebook/purplebook/app/db"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/uptrace/bunrouter"
)

// evidenceUploadLimit is the upload route's body limit: the largest file the
// evidence_max_bytes setting can allow plus room for the multipart framing
// and fields. The setting itself is enforced while the file streams in.
const evidenceUploadLimit = evidence.MaxLimit + 1<<20

func (s *Server) evidenceRoutes() []Route {
	read := func(m, p string, h bunrouter.HandlerFunc) Route {
		return Route{Method: m, Path: p, Access: Permission, Perm: "evidence.read", h: h}
	}
	return []Route{
		with(read("GET", "/missions/:id/tests/:tid/evidence", s.listEvidence), Route{Summary: "A test's evidence files", Query: paged(), Out: db.Page[evidence.File]{}}),
		{Method: "POST", Path: "/missions/:id/tests/:tid/evidence", Access: Permission, Perm: "evidence.upload",
			Limit: evidenceUploadLimit, h: s.uploadEvidence, Summary: "Upload evidence",
			In: Form{"file": "file: the evidence (required)", "side": "red or blue", "caption": "a caption"}, Out: evidence.File{}, Status: 201},
		with(read("GET", "/evidence/:eid", s.downloadEvidence), Route{Summary: "Download evidence", Query: []string{"inline: true to display images and text inline"},
			Out: evidenceDownload}),
		with(read("HEAD", "/evidence/:eid", s.downloadEvidence), Route{Summary: "Evidence headers (size, hash) without the content",
			Out: evidenceDownload}),
		{Method: "DELETE", Path: "/evidence/:eid", Access: Permission, Perm: "evidence.delete", h: s.deleteEvidence, Summary: "Delete evidence (soft)", Status: 204},
	}
}

// evidenceDownload is what GET and HEAD /evidence/{eid} answer
// (http.ServeContent: ranges and conditional requests).
var evidenceDownload = Responses{
	200: Media{Type: "application/octet-stream", Desc: "The file as uploaded, in its own content type; X-Evidence-SHA256 and ETag give its sha256"},
	206: Media{Type: "application/octet-stream", Desc: "The requested range"},
	304: nil,
	416: nil,
}

func (s *Server) listEvidence(w http.ResponseWriter, req bunrouter.Request) error {
	p, err := pageParams(req)
	if err != nil {
		return err
	}
	page, err := s.opts.Evidence.List(req.Context(), caller(req), req.Param("id"), req.Param("tid"), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

// maxFieldBytes bounds the side and caption form fields (a 500-character
// caption is at most 2,000 bytes of UTF-8).
const maxFieldBytes = 4 << 10

// uploadEvidence takes multipart/form-data: a "file" part (required) and
// optional "side" and "caption" fields, before or after the file. Access is
// checked before the body is read; the file streams to disk.
func (s *Server) uploadEvidence(w http.ResponseWriter, req bunrouter.Request) error {
	if !isMultipart(req) {
		return apperr.BadRequest("unsupported_media_type",
			`Send the evidence as multipart/form-data with the file in a "file" part.`)
	}
	up, err := s.opts.Evidence.Begin(req.Context(), caller(req), req.Param("id"), req.Param("tid"))
	if err != nil {
		return err
	}
	defer up.Discard()
	seen := map[string]bool{}
	err = eachPart(req, func(part *multipart.Part) error {
		name := part.FormName()
		if seen[name] {
			return apperr.BadRequest("invalid_multipart", "The form field %q is given more than once.", cleanPath(name)).
				WithDetails(map[string]any{cleanPath(name): "given more than once"})
		}
		seen[name] = true
		switch name {
		case "file":
			if err := up.ReadFile(part, rawFilename(part)); err != nil {
				return uploadError(err)
			}
			return nil
		case "side", "caption":
			v, err := formValue(part, maxFieldBytes)
			if err != nil {
				return err
			}
			if name == "side" {
				return up.SetSide(v)
			}
			return up.SetCaption(v)
		default:
			return apperr.BadRequest("unknown_field", "Unknown form field %q.", cleanPath(name)).
				WithDetails(map[string]any{cleanPath(name): "unknown field"})
		}
	})
	if err != nil {
		return err
	}
	f, err := up.Commit(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, f)
}

// rawFilename is the file name as the client sent it (RFC 7578 filename, or
// an RFC 2231 filename*), before any clean-up: Part.FileName applies the
// server platform's filepath.Base, which misses "\" on Unix. The evidence
// service sanitises it.
func rawFilename(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}

// uploadError maps ReadFile's errors: reading the client's body fails like
// multipart parsing; the service's own errors (size limit 413, disk
// failures 500) pass through.
func uploadError(err error) error {
	var re *evidence.ReadError
	if errors.As(err, &re) {
		return multipartError(re.Err)
	}
	return err
}

func (s *Server) downloadEvidence(w http.ResponseWriter, req bunrouter.Request) error {
	inline, err := queryBool(req, "inline")
	if err != nil {
		return err
	}
	f, content, err := s.opts.Evidence.Open(req.Context(), caller(req), req.Param("eid"))
	if err != nil {
		return err
	}
	defer content.Close()
	ct, inlineOK := evidence.ServeType(f.ContentType)
	disposition := "attachment"
	if inline != nil && *inline && inlineOK {
		disposition = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", contentDisposition(disposition, f.OriginalFilename))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Evidence-SHA256", f.SHA256)
	h.Set("Cache-Control", "private, no-store")
	h.Set("ETag", `"`+f.SHA256+`"`)
	// Should a browser ever render it as a document: no scripts, no
	// plugins, no same-origin access.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	// ServeContent answers Range, If-Range, If-None-Match and HEAD, and sets
	// Content-Length; the Content-Type above stops it from sniffing.
	http.ServeContent(w, req.Request, "", f.CreatedAt.Time, content)
	return nil
}

func (s *Server) deleteEvidence(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Evidence.Delete(req.Context(), caller(req), req.Param("eid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// contentDisposition builds an RFC 6266 header value: an ASCII fallback in
// filename="…" (quotes, backslashes, percent signs, control and non-ASCII
// characters replaced, so no parser can misread it) and the exact name in
// filename* (RFC 5987: charset UTF-8, no language, every byte outside
// attr-char percent-encoded).
func contentDisposition(disposition, name string) string {
	var fallback strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '%':
			fallback.WriteByte('_')
		default:
			fallback.WriteRune(r)
		}
	}
	fb := fallback.String()
	if strings.Trim(fb, "_. ") == "" {
		fb = "evidence"
	}
	var enc strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	return disposition + `; filename="` + fb + `"; filename*=UTF-8''` + enc.String()
}

// isAttrChar is RFC 5987's attr-char: the bytes that need no encoding.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
