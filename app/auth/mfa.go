package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

// TOTP (RFC 6238) with the parameters every authenticator app understands:
// SHA-1, 6 digits, 30-second steps, a 160-bit secret. One step of clock
// skew is accepted either way.
const (
	totpIssuer     = "Purplebook"
	totpPeriod     = 30
	totpSkew       = 1
	totpSecretSize = 20
	qrSize         = 256

	// RecoveryCodeCount one-time recovery codes are issued at enrolment.
	RecoveryCodeCount = 10
)

// Recovery codes look like "7kq2-m9xd-4p": ten characters of Crockford's
// base32 (no i, l, o, u), 50 random bits, typed case-insensitively with or
// without the dashes; o, i and l are read as 0, 1 and 1.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// mfaState is what the second factor keeps in memory: the last accepted
// TOTP step per user (a code is accepted once: RFC 6238 §5.2) and the MFA
// tokens already spent. It is per process: after a restart a code of the
// last 90 seconds could be replayed once, with the password and within the
// 5-minute life of an MFA token; a schema column would close that gap.
type mfaState struct {
	mu         sync.Mutex
	lastStep   map[string]int64     // user id → last accepted step
	spentToken map[string]time.Time // MFA token nonce → its expiry
}

// acceptStep records step for userID unless it (or a later one) was
// accepted before.
func (m *mfaState) acceptStep(userID string, step int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastStep == nil {
		m.lastStep = map[string]int64{}
	}
	if last, ok := m.lastStep[userID]; ok && step <= last {
		return false
	}
	if len(m.lastStep) > 10_000 {
		for k, v := range m.lastStep {
			if v < step-2*totpSkew-1 {
				delete(m.lastStep, k)
			}
		}
	}
	m.lastStep[userID] = step
	return true
}

// claimToken marks an MFA token nonce as in use; false if it already is.
func (m *mfaState) claimToken(nonce string, expires, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spentToken == nil {
		m.spentToken = map[string]time.Time{}
	}
	if _, ok := m.spentToken[nonce]; ok {
		return false
	}
	for k, exp := range m.spentToken {
		if !exp.After(now) {
			delete(m.spentToken, k)
		}
	}
	m.spentToken[nonce] = expires
	return true
}

// releaseToken gives back a claimed token after a wrong code, so the user
// can try again until it expires.
func (m *mfaState) releaseToken(nonce string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.spentToken, nonce)
}

// Errors of the MFA flow.
var (
	errMFATokenExpired = apperr.New(apperr.ErrUnauthenticated, "mfa_token_expired",
		"The sign-in took too long: the code step is valid for 5 minutes. Log in again with your password.")
	errMFATokenInvalid = apperr.New(apperr.ErrUnauthenticated, "invalid_mfa_token",
		"The sign-in step is invalid or was already completed. Log in again with your password.")
	errMFACodeInvalid = apperr.New(apperr.ErrUnauthenticated, "invalid_mfa_code",
		"The code is incorrect. Enter the current code from your authenticator app, or one of your recovery codes.")
	errMFACodeReused = apperr.New(apperr.ErrUnauthenticated, "mfa_code_reused",
		"This code was already used. Wait for the next code from your authenticator app.")
	// ErrSessionRequired answers a personal API token on a route that
	// reads or changes its owner's credentials or profile.
	ErrSessionRequired = apperr.New(apperr.ErrForbidden, "session_required",
		"API tokens cannot change passwords, two-factor authentication, API tokens or the profile: sign in with your password.")
	errMFANotEnabled = apperr.New(apperr.ErrConflict, "mfa_not_enabled", "Two-factor authentication is not turned on for your account.")
)

// CheckMFASetup confines a principal who must enrol in MFA (the instance
// requires it, the account has none) to the routes that let them do so:
// /auth/me, /auth/mfa and /auth/mfa/*, /auth/logout and /auth/password.
// routePath is the route pattern below /api/v1. It returns nil when the
// route is allowed, else a 403 mfa_setup_required.
func (p *Principal) CheckMFASetup(routePath string) error {
	if p == nil || !p.mfaSetupRequired {
		return nil
	}
	switch {
	case routePath == "/auth/me", routePath == "/auth/logout", routePath == "/auth/password",
		routePath == "/auth/mfa", strings.HasPrefix(routePath, "/auth/mfa/"):
		return nil
	}
	return apperr.New(apperr.ErrForbidden, "mfa_setup_required",
		"This instance requires two-factor authentication. Turn it on under your profile before continuing.").
		WithDetails(map[string]any{"enroll": "/api/v1/auth/mfa/enroll"})
}

// MFASetupRequired reports whether the principal must enrol in MFA first.
func (p *Principal) MFASetupRequired() bool { return p != nil && p.mfaSetupRequired }

type mfaUserRow struct {
	ID            string   `db:"id"`
	Email         string   `db:"email"`
	EmailFold     string   `db:"email_fold"`
	Name          string   `db:"name"`
	PasswordHash  string   `db:"password_hash"`
	Disabled      bool     `db:"disabled"`
	DeletedAt     *db.Time `db:"deleted_at"`
	MFAEnabled    bool     `db:"mfa_enabled"`
	TOTPSecret    *string  `db:"totp_secret"`
	MFAEnrolledAt *db.Time `db:"mfa_enrolled_at"`
	RecoveryCodes db.JSON  `db:"recovery_codes"`
}

// mfaUser reads a live, active account with its MFA columns.
func (s *Service) mfaUser(ctx context.Context, b dbx.Builder, userID string) (mfaUserRow, error) {
	var u mfaUserRow
	err := b.Select("id", "email", "email_fold", "name", "password_hash", "disabled", "deleted_at",
		"mfa_enabled", "totp_secret", "mfa_enrolled_at", "recovery_codes").
		From("users").Where(dbx.HashExp{"id": userID}).WithContext(ctx).One(&u)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (u.Disabled || u.DeletedAt != nil) {
		return u, errSessionEnded
	}
	if err != nil {
		return u, fmt.Errorf("auth: read mfa state: %w", err)
	}
	return u, nil
}

func (u mfaUserRow) recoveryHashes() []string {
	var hs []string
	if len(u.RecoveryCodes) > 0 {
		_ = json.Unmarshal(u.RecoveryCodes, &hs)
	}
	return hs
}

// MFAStatus is the caller's MFA state.
type MFAStatus struct {
	Enabled           bool     `json:"enabled"`
	EnrolledAt        *db.Time `json:"enrolled_at"`
	RecoveryCodesLeft int      `json:"recovery_codes_left"`
	// EnrollmentPending: enrol was called but not yet confirmed with a code.
	EnrollmentPending bool `json:"enrollment_pending"`
	// Required: the instance requires MFA for every account.
	Required bool `json:"required"`
}

// MFAStatus returns the principal's MFA state.
func (s *Service) MFAStatus(ctx context.Context, p *Principal) (MFAStatus, error) {
	u, err := s.mfaUser(ctx, s.db.Read, p.UserID)
	if err != nil {
		return MFAStatus{}, err
	}
	req, err := s.settings.RequireMFA(ctx)
	if err != nil {
		return MFAStatus{}, err
	}
	st := MFAStatus{Enabled: u.MFAEnabled, EnrollmentPending: !u.MFAEnabled && u.TOTPSecret != nil, Required: req}
	if u.MFAEnabled {
		st.EnrolledAt, st.RecoveryCodesLeft = u.MFAEnrolledAt, len(u.recoveryHashes())
	}
	return st, nil
}

// MFAEnrollment is what an authenticator app needs: the secret (for manual
// entry), the otpauth:// URI and the same URI as a QR code (a PNG data URL).
type MFAEnrollment struct {
	Secret       string `json:"secret"`
	OTPAuthURI   string `json:"otpauth_uri"`
	QRPNGDataURL string `json:"qr_png_data_url"`
}

// EnrollMFA starts enrolment: a new secret is stored (MFA stays off until
// ConfirmMFA). Calling it again replaces a pending secret. Only a login
// session may do this, never an API token.
func (s *Service) EnrollMFA(ctx context.Context, p *Principal, m Meta) (MFAEnrollment, error) {
	if p.TokenID != "" {
		return MFAEnrollment{}, ErrSessionRequired
	}
	u, err := s.mfaUser(ctx, s.db.Read, p.UserID)
	if err != nil {
		return MFAEnrollment{}, err
	}
	if u.MFAEnabled {
		return MFAEnrollment{}, apperr.New(apperr.ErrConflict, "mfa_already_enabled",
			"Two-factor authentication is already on. Turn it off first to enrol a new authenticator.")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Email, Period: totpPeriod,
		SecretSize: totpSecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return MFAEnrollment{}, fmt.Errorf("auth: totp secret: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return MFAEnrollment{}, fmt.Errorf("auth: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return MFAEnrollment{}, fmt.Errorf("auth: qr png: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		res, err := tx.Update("users", dbx.Params{"totp_secret": key.Secret(), "updated_at": s.nowTime()},
			dbx.HashExp{"id": u.ID, "mfa_enabled": false}).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.ErrConflict, "mfa_already_enabled", "Two-factor authentication is already on.")
		}
		return audit.Record(ctx, tx, s.nowTime(), p.Actor(m), audit.Event{Action: "auth.mfa_enroll_started", ObjectType: "user", ObjectID: u.ID})
	})
	if err != nil {
		return MFAEnrollment{}, fmt.Errorf("auth: enroll mfa: %w", err)
	}
	return MFAEnrollment{Secret: key.Secret(), OTPAuthURI: key.URL(),
		QRPNGDataURL: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// RecoveryCodes are shown once, when issued.
type RecoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// ConfirmMFA turns MFA on when code matches the pending secret, and issues
// the recovery codes.
func (s *Service) ConfirmMFA(ctx context.Context, p *Principal, code string, m Meta) (RecoveryCodes, error) {
	if p.TokenID != "" {
		return RecoveryCodes{}, ErrSessionRequired
	}
	code = normalizeCode(code)
	if code == "" {
		return RecoveryCodes{}, &apperr.Invalid{Fields: map[string]string{"code": "is required"}}
	}
	if !isTOTPCode(code) {
		return RecoveryCodes{}, &apperr.Invalid{Fields: map[string]string{"code": "must be the 6-digit code from your authenticator app"}}
	}
	u, err := s.mfaUser(ctx, s.db.Read, p.UserID)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if u.MFAEnabled {
		return RecoveryCodes{}, apperr.New(apperr.ErrConflict, "mfa_already_enabled", "Two-factor authentication is already on.")
	}
	if u.TOTPSecret == nil {
		return RecoveryCodes{}, apperr.New(apperr.ErrConflict, "mfa_not_enrolled", "Start with POST /auth/mfa/enroll, then confirm its code.")
	}
	switch s.checkTOTP(u.ID, *u.TOTPSecret, code) {
	case codeReused:
		return RecoveryCodes{}, &apperr.Invalid{Fields: map[string]string{"code": "was already used; wait for the next code"}}
	case codeWrong:
		_ = audit.Record(ctx, s.db.Write, s.nowTime(), p.Actor(m), audit.Event{Action: "auth.mfa_failed", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"step": "confirm"}})
		return RecoveryCodes{}, &apperr.Invalid{Fields: map[string]string{"code": "is incorrect: check the time on your device and enter the current code"}}
	}
	codes, hashes := newRecoveryCodes()
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		res, err := tx.Update("users", dbx.Params{"mfa_enabled": true, "mfa_enrolled_at": now, "recovery_codes": hashes, "updated_at": now},
			dbx.HashExp{"id": u.ID, "mfa_enabled": false, "totp_secret": *u.TOTPSecret}).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.ErrConflict, "mfa_enrollment_changed", "The enrolment changed meanwhile. Start again.")
		}
		return audit.Record(ctx, tx, now, p.Actor(m), audit.Event{Action: "auth.mfa_enabled", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"recovery_codes": RecoveryCodeCount}})
	})
	if err != nil {
		return RecoveryCodes{}, fmt.Errorf("auth: confirm mfa: %w", err)
	}
	s.Invalidate() // lifts a require_mfa confinement
	return RecoveryCodes{RecoveryCodes: codes}, nil
}

// checkPasswordFor verifies the caller's password for a sensitive change.
// Wrong guesses count as failed logins for the throttle.
func (s *Service) checkPasswordFor(ctx context.Context, p *Principal, u mfaUserRow, password, action string, m Meta) error {
	if password == "" {
		return &apperr.Invalid{Fields: map[string]string{"password": "is required"}}
	}
	if wait := s.throttle.wait(u.EmailFold, m.IP); wait > 0 {
		secs := max(int(wait.Round(time.Second)/time.Second), 1)
		return &apperr.RetryAfter{Seconds: secs, Message: fmt.Sprintf("Too many wrong passwords. Try again in %d seconds.", secs)}
	}
	if len(password) > 4*MaxPasswordLen {
		password = password[:4*MaxPasswordLen]
	}
	if ok, _ := VerifyPassword(u.PasswordHash, password, s.argon); !ok {
		s.throttle.fail(u.EmailFold, m.IP)
		_ = audit.Record(ctx, s.db.Write, s.nowTime(), p.Actor(m), audit.Event{Action: action + "_failed", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"reason": "wrong_password"}})
		return &apperr.Invalid{Fields: map[string]string{"password": "is incorrect"}}
	}
	s.throttle.succeed(u.EmailFold, m.IP)
	return nil
}

// DisableMFA turns MFA off (or abandons a pending enrolment) after checking
// the password: the secret and the recovery codes are deleted.
func (s *Service) DisableMFA(ctx context.Context, p *Principal, password string, m Meta) error {
	if p.TokenID != "" {
		return ErrSessionRequired
	}
	u, err := s.mfaUser(ctx, s.db.Read, p.UserID)
	if err != nil {
		return err
	}
	if !u.MFAEnabled && u.TOTPSecret == nil {
		return errMFANotEnabled
	}
	if err := s.checkPasswordFor(ctx, p, u, password, "auth.mfa_disable", m); err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := tx.Update("users", dbx.Params{"mfa_enabled": false, "totp_secret": nil, "mfa_enrolled_at": nil,
			"recovery_codes": "[]", "updated_at": now}, dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		action := "auth.mfa_disabled"
		if !u.MFAEnabled {
			action = "auth.mfa_enroll_cancelled"
		}
		return audit.Record(ctx, tx, now, p.Actor(m), audit.Event{Action: action, ObjectType: "user", ObjectID: u.ID})
	})
	if err != nil {
		return fmt.Errorf("auth: disable mfa: %w", err)
	}
	s.Invalidate()
	return nil
}

// ResetMFA turns MFA off for another account on behalf of an administrator
// (the caller checks user.manage): the way back for a user who lost both
// the authenticator and the recovery codes. Their sessions end, so the next
// login is by password only (and enrols again when MFA is required), and
// their API tokens are revoked.
func (s *Service) ResetMFA(ctx context.Context, actor *Principal, userID string, m Meta) error {
	if !db.ValidID(userID) {
		return apperr.New(apperr.ErrNotFound, "user_not_found", "No such user.")
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		u, err := s.mfaUser(ctx, tx, userID)
		if errors.Is(err, errSessionEnded) {
			return apperr.New(apperr.ErrNotFound, "user_not_found", "No such user.")
		}
		if err != nil {
			return err
		}
		if !u.MFAEnabled && u.TOTPSecret == nil {
			return errMFANotEnabled
		}
		now := s.nowTime()
		if _, err := tx.Update("users", dbx.Params{"mfa_enabled": false, "totp_secret": nil, "mfa_enrolled_at": nil,
			"recovery_codes": "[]", "updated_at": now}, dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		if err := s.revokeWhere(ctx, tx, dbx.HashExp{"user_id": u.ID}, "mfa_reset"); err != nil {
			return err
		}
		n, err := s.revokeAPITokens(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "auth.mfa_reset", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"email": u.Email, "api_tokens_revoked": n}})
	})
	if err != nil {
		return err
	}
	s.Invalidate()
	return nil
}

// RegenerateRecoveryCodes replaces every recovery code after checking the
// password.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p *Principal, password string, m Meta) (RecoveryCodes, error) {
	if p.TokenID != "" {
		return RecoveryCodes{}, ErrSessionRequired
	}
	u, err := s.mfaUser(ctx, s.db.Read, p.UserID)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if !u.MFAEnabled {
		return RecoveryCodes{}, errMFANotEnabled
	}
	if err := s.checkPasswordFor(ctx, p, u, password, "auth.mfa_recovery_codes", m); err != nil {
		return RecoveryCodes{}, err
	}
	codes, hashes := newRecoveryCodes()
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		res, err := tx.Update("users", dbx.Params{"recovery_codes": hashes, "updated_at": s.nowTime()},
			dbx.HashExp{"id": u.ID, "mfa_enabled": true}).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errMFANotEnabled
		}
		return audit.Record(ctx, tx, s.nowTime(), p.Actor(m), audit.Event{Action: "auth.mfa_recovery_codes_regenerated", ObjectType: "user",
			ObjectID: u.ID, Details: map[string]any{"recovery_codes": RecoveryCodeCount, "replaced_unused": len(u.recoveryHashes())}})
	})
	if err != nil {
		return RecoveryCodes{}, fmt.Errorf("auth: recovery codes: %w", err)
	}
	return RecoveryCodes{RecoveryCodes: codes}, nil
}

// LoginMFA completes a login that answered mfa_required: mfaToken is the
// token of that answer (5 minutes, single-use), code a current TOTP code or
// an unused recovery code. Wrong codes count as failed logins for the
// throttle and are audited.
func (s *Service) LoginMFA(ctx context.Context, mfaToken, code string, m Meta) (LoginResult, error) {
	now := s.now()
	c, err := s.signer.Verify(mfaToken, "mfa", now)
	if errors.Is(err, errExpiredToken) {
		return LoginResult{}, errMFATokenExpired
	}
	if err != nil || c.SessionID == "" {
		return LoginResult{}, errMFATokenInvalid
	}
	u, err := s.mfaUser(ctx, s.db.Read, c.UserID)
	if errors.Is(err, errSessionEnded) || err == nil && (!u.MFAEnabled || u.TOTPSecret == nil) {
		return LoginResult{}, errMFATokenInvalid
	}
	if err != nil {
		return LoginResult{}, err
	}
	if wait := s.throttle.wait(u.EmailFold, m.IP); wait > 0 {
		secs := max(int(wait.Round(time.Second)/time.Second), 1)
		return LoginResult{}, &apperr.RetryAfter{Seconds: secs,
			Message: fmt.Sprintf("Too many wrong codes. Try again in %d seconds.", secs)}
	}
	if !s.mfa.claimToken(c.SessionID, time.Unix(c.ExpiresAt, 0), now) {
		return LoginResult{}, errMFATokenInvalid
	}
	method, err := s.verifySecondFactor(ctx, u, normalizeCode(code), m)
	if err != nil {
		s.mfa.releaseToken(c.SessionID)
		s.throttle.fail(u.EmailFold, m.IP)
		reason := "wrong_code"
		if errors.Is(err, errMFACodeReused) {
			reason = "code_reused"
		}
		_ = s.recordAnon(ctx, u.ID, u.Email, m, "auth.mfa_failed", map[string]any{"step": "login", "reason": reason})
		return LoginResult{}, err
	}
	s.throttle.succeed(u.EmailFold, m.IP)
	sess, err := s.startSession(ctx, u.ID, m, "password+"+method)
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Session: sess}, nil
}

type codeResult int

const (
	codeOK codeResult = iota
	codeWrong
	codeReused
)

// checkTOTP compares code with the steps around now and accepts each step
// once per user.
func (s *Service) checkTOTP(userID, secret, code string) codeResult {
	cur := s.now().Unix() / totpPeriod
	for _, step := range []int64{cur, cur - 1, cur + 1} { // totpSkew = 1
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return codeWrong
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if !s.mfa.acceptStep(userID, step) {
				return codeReused
			}
			return codeOK
		}
	}
	return codeWrong
}

// verifySecondFactor accepts a TOTP code or spends a recovery code, and
// names the method for the audit log.
func (s *Service) verifySecondFactor(ctx context.Context, u mfaUserRow, code string, m Meta) (string, error) {
	switch {
	case code == "":
		return "", errMFACodeInvalid
	case isTOTPCode(code):
		switch s.checkTOTP(u.ID, *u.TOTPSecret, code) {
		case codeOK:
			return "totp", nil
		case codeReused:
			return "", errMFACodeReused
		}
		return "", errMFACodeInvalid
	}
	rc, ok := normalizeRecoveryCode(code)
	if !ok {
		return "", errMFACodeInvalid
	}
	want := hashToken(rc)
	var left int
	spent := false
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		// The no-op update locks the row on PostgreSQL, so two logins cannot
		// spend the same code; SQLite serialises writers anyway.
		if _, err := tx.NewQuery("UPDATE users SET updated_at = updated_at WHERE id = {:id}").
			Bind(dbx.Params{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		cur, err := s.mfaUser(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		hashes := cur.recoveryHashes()
		keep := make([]string, 0, len(hashes))
		for _, h := range hashes {
			if !spent && subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1 {
				spent = true
				continue
			}
			keep = append(keep, h)
		}
		if !spent {
			return nil
		}
		left = len(keep)
		if _, err := tx.Update("users", dbx.Params{"recovery_codes": string(db.MustJSON(keep)), "updated_at": s.nowTime()},
			dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), audit.Actor{UserID: u.ID, Label: u.Email, IP: m.IP, RequestID: m.RequestID},
			audit.Event{Action: "auth.mfa_recovery_code_used", ObjectType: "user", ObjectID: u.ID,
				Details: map[string]any{"recovery_codes_left": left}})
	})
	if err != nil {
		return "", fmt.Errorf("auth: recovery code: %w", err)
	}
	if !spent {
		return "", errMFACodeInvalid
	}
	return "recovery_code", nil
}

// normalizeCode drops spaces and dashes and lower-cases.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return code[:64] // never matches; bounded work
	}
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code))
}

func isTOTPCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// normalizeRecoveryCode maps a typed recovery code (already normalised by
// normalizeCode) to its canonical form.
func normalizeRecoveryCode(code string) (string, bool) {
	if len(code) != 10 {
		return "", false
	}
	out := []byte(code)
	for i, c := range out {
		switch c {
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if !strings.ContainsRune(recoveryAlphabet, rune(c)) {
			return "", false
		}
		out[i] = c
	}
	return string(out), true
}

// newRecoveryCodes returns RecoveryCodeCount fresh codes for display and
// the JSON array of their hashes for users.recovery_codes (a string, so
// SQLite stores TEXT).
func newRecoveryCodes() ([]string, string) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([]string, RecoveryCodeCount)
	b := make([]byte, 10)
	for i := range codes {
		if _, err := rand.Read(b); err != nil {
			panic("auth: crypto/rand failed: " + err.Error())
		}
		raw := make([]byte, 10)
		for j := range b {
			raw[j] = recoveryAlphabet[b[j]&31] // 256 is a multiple of 32: unbiased
		}
		codes[i] = string(raw[:4]) + "-" + string(raw[4:8]) + "-" + string(raw[8:])
		hashes[i] = hashToken(string(raw))
	}
	return codes, string(db.MustJSON(hashes))
}
