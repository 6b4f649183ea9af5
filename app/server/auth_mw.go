package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
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
		if rt.Session && p.TokenID != "" {
			return auth.ErrSessionRequired
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

// meta is what the auth service records about a request (audit, login
// throttling). The client address is the TCP peer, or, when the peer is a
// trusted proxy (Options.TrustedProxies), the one X-Forwarded-For names.
func meta(req bunrouter.Request) auth.Meta {
	ip, ok := req.Context().Value(clientIPKey).(string)
	if !ok {
		ip = peerIP(req.RemoteAddr)
	}
	return auth.Meta{IP: ip, UserAgent: req.UserAgent(), RequestID: requestIDFrom(req.Context())}
}

const clientIPKey ctxKey = 3

func peerIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// withClient resolves the client address once per request when proxies are
// trusted; without them meta reads the peer address and nothing is added.
func (s *Server) withClient(req *http.Request) *http.Request {
	if len(s.opts.TrustedProxies) == 0 {
		return req
	}
	ip := ClientIP(req.RemoteAddr, req.Header.Values("X-Forwarded-For"), s.opts.TrustedProxies)
	return req.WithContext(context.WithValue(req.Context(), clientIPKey, ip))
}

// ClientIP is the address a request comes from: the TCP peer, unless the
// peer is one of the trusted proxies; then X-Forwarded-For is read from the
// right (the hop nearest to us) and the first address that is not a trusted
// proxy is the client. An entry that is not an address ends the walk at the
// hop that sent it, so a client cannot smuggle one past a proxy that
// appends. Untrusted peers' X-Forwarded-For is ignored: anyone can send one.
func ClientIP(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	peer := peerIP(remoteAddr)
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	cur := addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		cur = a.Unmap()
		if !isTrusted(cur, trusted) {
			break
		}
	}
	return cur.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
