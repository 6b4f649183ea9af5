package server

import (
	"encoding/json"
	"net/http"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/uptrace/bunrouter"
)

// Handlers of MFA, API tokens and settings (account_routes.go), and the
// second step of login.

// loginMFA completes a login that answered {mfa_required, mfa_token}:
// POST /auth/login with {mfa_token, code}, where code is the current TOTP
// code or an unused recovery code.
func (s *Server) loginMFA(w http.ResponseWriter, req bunrouter.Request, in loginRequest) error {
	if in.Email != "" || in.Password != "" {
		return apperr.BadRequest("invalid_login_request",
			"Send either email and password, or mfa_token and code (the second step), not both.")
	}
	var inv apperr.Invalid
	if in.MFAToken == "" {
		inv.Add("mfa_token", "is required")
	}
	if in.Code == "" {
		inv.Add("code", "is required")
	}
	if err := inv.Err(); err != nil {
		return err
	}
	res, err := s.opts.Auth.LoginMFA(req.Context(), in.MFAToken, in.Code, meta(req))
	if err != nil {
		return err
	}
	s.setRefreshCookie(w, req, res.RefreshToken, res.RefreshExpires)
	return writeJSON(w, http.StatusOK, res)
}

// decodeOptionalJSON is decodeJSON for bodies that may be left out.
func decodeOptionalJSON(req bunrouter.Request, dst any) error {
	if req.ContentLength == 0 {
		return nil
	}
	return decodeJSON(req, dst)
}

// ---------------------------------------------------------------------------
// MFA

type mfaCodeRequest struct {
	Code string `json:"code"`
}

type mfaPasswordRequest struct {
	Password string `json:"password"`
}

func (s *Server) getMFA(w http.ResponseWriter, req bunrouter.Request) error {
	st, err := s.opts.Auth.MFAStatus(req.Context(), principal(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) enrollMFA(w http.ResponseWriter, req bunrouter.Request) error {
	var in struct{}
	if err := decodeOptionalJSON(req, &in); err != nil {
		return err
	}
	e, err := s.opts.Auth.EnrollMFA(req.Context(), principal(req), meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (s *Server) confirmMFA(w http.ResponseWriter, req bunrouter.Request) error {
	var in mfaCodeRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	codes, err := s.opts.Auth.ConfirmMFA(req.Context(), principal(req), in.Code, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, codes)
}

func (s *Server) disableMFA(w http.ResponseWriter, req bunrouter.Request) error {
	var in mfaPasswordRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	p := principal(req)
	if err := s.opts.Auth.DisableMFA(req.Context(), p, in.Password, meta(req)); err != nil {
		return err
	}
	st, err := s.opts.Auth.MFAStatus(req.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) regenerateRecoveryCodes(w http.ResponseWriter, req bunrouter.Request) error {
	var in mfaPasswordRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	codes, err := s.opts.Auth.RegenerateRecoveryCodes(req.Context(), principal(req), in.Password, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, codes)
}

// ---------------------------------------------------------------------------
// API tokens

func (s *Server) listAPITokens(w http.ResponseWriter, req bunrouter.Request) error {
	pp, err := pageParams(req)
	if err != nil {
		return err
	}
	page, err := s.opts.Auth.ListAPITokens(req.Context(), principal(req), pp)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createAPIToken(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.CreateAPITokenParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	t, err := s.opts.Auth.CreateAPIToken(req.Context(), principal(req), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, t)
}

func (s *Server) revokeAPIToken(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Auth.RevokeAPIToken(req.Context(), principal(req), req.Param("id"), meta(req)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---------------------------------------------------------------------------
// Settings

type settingRequest struct {
	Value json.RawMessage `json:"value"`
}

func (s *Server) getSettings(w http.ResponseWriter, req bunrouter.Request) error {
	all, err := s.opts.Settings.All(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, all)
}

func (s *Server) getSetting(w http.ResponseWriter, req bunrouter.Request) error {
	st, err := s.opts.Settings.Get(req.Context(), req.Param("key"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) putSetting(w http.ResponseWriter, req bunrouter.Request) error {
	var in settingRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	st, err := s.opts.Auth.PutSetting(req.Context(), principal(req), req.Param("key"), in.Value, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}
