package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Signer makes and checks compact HMAC-SHA256 tokens:
// base64url(json claims) "." base64url(mac). The format is deliberately
// smaller than JWT (no algorithm negotiation, one key, one algorithm).
type Signer struct{ key []byte }

// NewSigner uses key (at least 32 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("auth: signing key must be at least 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// LoadOrCreateKey reads <dir>/secret.key, creating it (32 random bytes,
// hex, mode 0600) when missing.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("auth: %s is corrupt: delete it to make a new one (every user will have to log in again)", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: read %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: create %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// Claims are what a token carries.
type Claims struct {
	Type      string `json:"typ"`           // "access" or "mfa"
	UserID    string `json:"sub"`           // user id
	SessionID string `json:"sid,omitempty"` // login session (access tokens)
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

var errBadToken = errors.New("auth: invalid token")

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) string {
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *Signer) mac(p string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(p))
	return m.Sum(nil)
}

// Verify checks the signature, type and expiry.
func (s *Signer) Verify(token, typ string, now time.Time) (Claims, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 2048 {
		return Claims{}, errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return Claims{}, errBadToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Claims{}, errBadToken
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Type != typ || c.UserID == "" {
		return Claims{}, errBadToken
	}
	if now.Unix() >= c.ExpiresAt {
		return Claims{}, errExpiredToken
	}
	return c, nil
}

var errExpiredToken = errors.New("auth: token expired")

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how opaque tokens are stored: hex sha256. The tokens carry
// 256 bits of randomness, so a fast hash is enough.
func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}
