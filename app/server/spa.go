package server

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/uptrace/bunrouter"
)

// spaHandler serves the embedded SPA: files as they are (hashed files under
// /assets/ cached for a year, everything else revalidated), extensionless
// paths fall back to index.html so client-side routes survive a reload, and
// /api/ is never answered with HTML.
func (s *Server) spaHandler() bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		p := req.URL.Path
		if p == "/api" || strings.HasPrefix(p, "/api/") {
			return notFound(w, req)
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			return methodNotAllowed(w, req)
		}
		if s.opts.Assets == nil {
			return apperr.New(apperr.ErrNotFound, "not_found", "The web app is not embedded in this build.")
		}
		name := strings.TrimPrefix(path.Clean("/"+p), "/")
		if name == "" {
			name = "index.html"
		}
		if serveFile(w, req, s.opts.Assets, name) {
			return nil
		}
		if path.Ext(name) != "" {
			return apperr.New(apperr.ErrNotFound, "not_found", "No such file: /%s.", cleanPath(name))
		}
		if serveFile(w, req, s.opts.Assets, "index.html") {
			return nil
		}
		return apperr.New(apperr.ErrNotFound, "not_found", "The web app is not embedded in this build.")
	}
}

func serveFile(w http.ResponseWriter, req bunrouter.Request, fsys fs.FS, name string) bool {
	f, err := fsys.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	if strings.HasPrefix(name, "assets/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		w.WriteHeader(http.StatusOK)
		if req.Method != http.MethodHead {
			_, _ = io.Copy(w, f)
		}
		return true
	}
	// Embedded files have no modification time; ETag-less ServeContent still
	// handles Range and HEAD.
	http.ServeContent(w, req.Request, name, st.ModTime(), rs)
	return true
}
