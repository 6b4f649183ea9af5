package server

import (
	"fmt"
	"net/http"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/uptrace/bunrouter"
)

// auditRoutes: the audit trail's integrity (the listing is in
// adminRoutes). Verifying walks the whole chain; the anchor is the chain's
// head to keep elsewhere and check against later.
func (s *Server) auditRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/audit/verify", Access: Permission, Perm: "audit.read", h: s.verifyAudit, Summary: "Verify the audit hash chain", Out: audit.Report{}},
		{Method: "POST", Path: "/audit/verify", Access: Permission, Perm: "audit.read", h: s.verifyAuditAnchor, Summary: "Verify the chain against an exported anchor", In: audit.Anchor{}, Out: audit.Report{}},
		{Method: "GET", Path: "/audit/anchor", Access: Permission, Perm: "audit.read", h: s.auditAnchor, Summary: "Export an anchor of the chain's head (download)", Out: audit.Anchor{}},
	}
}

// verifyAudit answers "intact" or the first broken event.
func (s *Server) verifyAudit(w http.ResponseWriter, req bunrouter.Request) error {
	rep, err := audit.Verify(req.Context(), s.opts.DB, s.opts.Now(), nil)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// verifyAuditAnchor verifies the chain and that it passes through the
// anchor in the body (as GET /audit/anchor exported it).
func (s *Server) verifyAuditAnchor(w http.ResponseWriter, req bunrouter.Request) error {
	var a audit.Anchor
	if err := decodeJSON(req, &a); err != nil {
		return err
	}
	rep, err := audit.Verify(req.Context(), s.opts.DB, s.opts.Now(), &a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// auditAnchor downloads the chain's current head as a JSON file.
func (s *Server) auditAnchor(w http.ResponseWriter, req bunrouter.Request) error {
	a, err := audit.ExportAnchor(req.Context(), s.opts.DB, s.opts.Now())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="purplebook-audit-anchor-%d.json"`, a.Seq))
	return writeJSON(w, http.StatusOK, a)
}
