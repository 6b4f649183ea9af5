package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. They are stored in every
// hash (PHC string format), so they can be raised later: hashes made with
// older parameters still verify and are re-hashed at the next login.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultArgon2 is chosen so one hash takes roughly 50–150 ms on a 2-core
// laptop (bench: go test -bench Login ./app/auth): 64 MiB, 2 passes, 2 lanes.
// RFC 9106's second recommendation is 64 MiB / 3 passes; OWASP's minimum is
// 19 MiB / 2 passes. Memory is the main defence against GPU cracking.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}

// hashSlots bounds concurrent argon2 computations: each takes Memory KiB, so
// a burst of logins cannot exhaust RAM.
var hashSlots = make(chan struct{}, 2)

// HashPassword returns a PHC-format argon2id hash of pw.
func HashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hashSlots <- struct{}{}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	<-hashSlots
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("auth: unrecognised password hash")

func parseHash(h string) (Argon2Params, []byte, []byte, error) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Argon2Params{}, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Argon2Params{}, nil, nil, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// VerifyPassword compares pw with a stored hash in constant time. rehash is
// true when the hash uses weaker parameters than want.
func VerifyPassword(hash, pw string, want Argon2Params) (ok, rehash bool) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		// Still spend the time, so a broken hash is not distinguishable.
		_, _ = HashPassword(pw, want)
		return false, false
	}
	hashSlots <- struct{}{}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	<-hashSlots
	ok = subtle.ConstantTimeCompare(got, key) == 1
	rehash = p.Memory < want.Memory || p.Time < want.Time || p.KeyLen < want.KeyLen
	return ok, rehash
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// burnPasswordTime does the work of one verification against a dummy hash,
// so an unknown account costs as much time as a wrong password.
func burnPasswordTime(pw string, p Argon2Params) {
	dummyOnce.Do(func() { dummyHash, _ = HashPassword("purplebook-dummy-password", p) })
	VerifyPassword(dummyHash, pw, p)
}

// MinPasswordLen and MaxPasswordLen bound passwords (in characters). The
// maximum stops hashing megabytes on purpose.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

//go:embed common-passwords.txt
var commonPasswordsTxt string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsTxt))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
			m[strings.ToLower(w)] = true
		}
	}
	return m
})

// CheckPassword returns a problem description, or "" when pw is acceptable.
// Context words (email, name) must not make up the password.
func CheckPassword(pw string, context ...string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Sprintf("must be at most %d characters", MaxPasswordLen)
	case !utf8.ValidString(pw):
		return "must be valid text"
	}
	lower := strings.ToLower(pw)
	if commonPasswords()[lower] {
		return "is too common; choose another"
	}
	distinct := map[rune]bool{}
	for _, r := range lower {
		distinct[r] = true
	}
	if len(distinct) < 4 {
		return "is too repetitive; choose another"
	}
	for _, c := range context {
		c = strings.ToLower(strings.TrimSpace(c))
		if local, _, ok := strings.Cut(c, "@"); ok {
			c = local
		}
		if len(c) >= 4 && strings.Contains(lower, c) && len(lower)-len(c) < 6 {
			return "is too close to your name or email"
		}
	}
	if strings.Contains(lower, "purplebook") && len(lower)-len("purplebook") < 6 {
		return "is too close to the product name"
	}
	return ""
}
