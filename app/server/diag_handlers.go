package server

import (
	"net/http"

	"github.com/purplebook/purplebook/app/diag"
	"github.com/uptrace/bunrouter"
)

type healthStatus struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

type resetResult struct {
	Reset bool `json:"reset"`
}

func (s *Server) health(w http.ResponseWriter, req bunrouter.Request) error {
	return writeJSON(w, http.StatusOK, healthStatus{Status: "ok", Version: s.opts.Version})
}

func (s *Server) diagDB(w http.ResponseWriter, req bunrouter.Request) error {
	st := diag.Database(req.Context(), s.opts.DB)
	status := http.StatusOK
	if !st.Reachable {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, st)
}

// diagReset deletes all data (keeps the permission catalogue and re-seeds
// groups, detection levels and settings). Only registered with --enable-reset.
func (s *Server) diagReset(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.DB.Reset(req.Context(), "permissions"); err != nil {
		return err
	}
	s.opts.Auth.Invalidate()
	s.opts.Mitre.Invalidate()
	// No user exists any more: a new one-time setup token lets the caller
	// (or a test) set the instance up again.
	if _, err := s.opts.Auth.PrepareSetup(req.Context()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resetResult{Reset: true})
}
