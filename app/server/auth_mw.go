package server

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/uptrace/bunrouter"
)

// principal returns the authenticated caller; routes declared Authenticated
// or Permission always have one.
func principal(req bunrouter.Request) *auth.Principal {
	if ri := requestInfoFrom(req.Context()); ri != nil {
		return ri.principal
	}
	return nil
}

func bearerToken(req bunrouter.Request) string {
	h := req.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// guard enforces the route's access rule before its handler runs.
func (s *Server) guard(rt Route, next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	if rt.Access == Public {
		return next
	}
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		p, err := s.opts.Auth.Authenticate(req.Context(), bearerToken(req))
		if err != nil {
			return err
		}
		// Under the require_mfa setting a user without MFA may only enrol.
		if err := p.CheckMFASetup(rt.Path); err != nil {
			return err
		}
		if rt.Access == Permission && !p.Can(rt.Perm) {
			return apperr.New(apperr.ErrForbidden, "forbidden",
				"You need the %q permission to do this.", rt.Perm).WithDetails(map[string]any{"permission": rt.Perm})
		}
		if ri := requestInfoFrom(req.Context()); ri != nil {
			ri.principal = p // the request's own record: no copy of the request
			return next(w, req)
		}
		ctx := context.WithValue(req.Context(), requestInfoKey, &requestInfo{principal: p})
		return next(w, req.WithContext(ctx))
	}
}

// meta is what the auth service records about a request. The client
// address is the TCP peer: proxies are not trusted for it.
func meta(req bunrouter.Request) auth.Meta {
	ip := req.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	return auth.Meta{IP: ip, UserAgent: req.UserAgent(), RequestID: requestIDFrom(req.Context())}
}
