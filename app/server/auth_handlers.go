package server

import (
	"net/http"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/uptrace/bunrouter"
)

// refreshCookie carries the refresh token for the SPA: HttpOnly (scripts
// never see it), SameSite=Strict, and only sent to /api/v1/auth.
const refreshCookie = "pb_refresh"

// setRefreshCookie sets the refresh cookie; its Max-Age counts on the
// services' clock, the one that set expires.
func (s *Server) setRefreshCookie(w http.ResponseWriter, req bunrouter.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: refreshCookie, Value: token, Path: "/api/v1/auth", Expires: expires,
		MaxAge: int(expires.Sub(s.opts.Now()) / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: req.TLS != nil,
	})
}

func clearRefreshCookie(w http.ResponseWriter, req bunrouter.Request) {
	http.SetCookie(w, &http.Cookie{Name: refreshCookie, Value: "", Path: "/api/v1/auth", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: req.TLS != nil})
}

func (s *Server) getSetup(w http.ResponseWriter, req bunrouter.Request) error {
	needed, err := s.opts.Auth.SetupNeeded(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, setupStatus{Needed: needed})
}

func (s *Server) postSetup(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.SetupParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	sess, err := s.opts.Auth.Setup(req.Context(), in, meta(req))
	if err != nil {
		return err
	}
	s.setRefreshCookie(w, req, sess.RefreshToken, sess.RefreshExpires)
	return writeJSON(w, http.StatusCreated, sess)
}

// loginRequest is either the password step {email, password} or, after an
// {mfa_required, mfa_token} answer, the MFA step {mfa_token, code}.
// setupStatus says whether first-run setup is still to do.
type setupStatus struct {
	Needed bool `json:"needed"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	MFAToken string `json:"mfa_token"`
	Code     string `json:"code"`
}

func (s *Server) login(w http.ResponseWriter, req bunrouter.Request) error {
	var in loginRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if in.MFAToken != "" || in.Code != "" {
		return s.loginMFA(w, req, in) // account_handlers.go
	}
	var inv apperr.Invalid
	if in.Email == "" {
		inv.Add("email", "is required")
	}
	if in.Password == "" {
		inv.Add("password", "is required")
	}
	if err := inv.Err(); err != nil {
		return err
	}
	res, err := s.opts.Auth.Login(req.Context(), in.Email, in.Password, meta(req))
	if err != nil {
		return err
	}
	if res.Session != nil {
		s.setRefreshCookie(w, req, res.RefreshToken, res.RefreshExpires)
	}
	return writeJSON(w, http.StatusOK, res)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refreshToken reads the token from the body when one is sent, else from
// the cookie.
func refreshToken(req bunrouter.Request) (string, error) {
	if req.ContentLength != 0 && req.Header.Get("Content-Type") != "" {
		var in refreshRequest
		if err := decodeJSON(req, &in); err != nil {
			return "", err
		}
		if in.RefreshToken != "" {
			return in.RefreshToken, nil
		}
	}
	if c, err := req.Cookie(refreshCookie); err == nil {
		return c.Value, nil
	}
	return "", nil
}

func (s *Server) refresh(w http.ResponseWriter, req bunrouter.Request) error {
	token, err := refreshToken(req)
	if err != nil {
		return err
	}
	sess, err := s.opts.Auth.Refresh(req.Context(), token, meta(req))
	if err != nil {
		clearRefreshCookie(w, req)
		return err
	}
	s.setRefreshCookie(w, req, sess.RefreshToken, sess.RefreshExpires)
	return writeJSON(w, http.StatusOK, sess)
}

func (s *Server) logout(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Auth.Logout(req.Context(), principal(req), meta(req)); err != nil {
		return err
	}
	clearRefreshCookie(w, req)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, req bunrouter.Request) error {
	m, err := s.opts.Auth.Me(req.Context(), principal(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}
