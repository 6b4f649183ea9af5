package auth

// First-run setup: the one-time token and the first administrator.

import (
	"context"
	"crypto/subtle"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

// SetupNeeded reports whether no user exists yet.
func (s *Service) SetupNeeded(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.Read.Select("COUNT(*)").From("users").WithContext(ctx).Row(&n); err != nil {
		return false, fmt.Errorf("auth: count users: %w", err)
	}
	return n == 0, nil
}

// SetupTokenPath is where the one-time setup token is written.
func (s *Service) SetupTokenPath() string {
	if s.dataDir == "" {
		return ""
	}
	return filepath.Join(s.dataDir, "setup-token")
}

// PrepareSetup makes a new one-time setup token when no user exists, writes
// it to <data-dir>/setup-token (0600) and returns it; it returns "" (and
// removes a stale file) when setup is done.
func (s *Service) PrepareSetup(ctx context.Context) (string, error) {
	needed, err := s.SetupNeeded(ctx)
	if err != nil {
		return "", err
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	path := s.SetupTokenPath()
	if !needed {
		s.setupHash = ""
		if path != "" {
			_ = os.Remove(path)
		}
		return "", nil
	}
	token := randomToken(24)
	if path != "" {
		tmp := path + ".tmp"
		_ = os.Remove(tmp)
		if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("auth: write setup token: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("auth: write setup token: %w", err)
		}
	}
	s.setupHash = hashToken(token)
	return token, nil
}

// SetupParams create the first administrator.
type SetupParams struct {
	Token    string `json:"token"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// Setup creates the first administrator (member of Admins) with the
// one-time token, then logs them in.
func (s *Service) Setup(ctx context.Context, in SetupParams, m Meta) (*Session, error) {
	s.setupMu.Lock()
	want := s.setupHash
	s.setupMu.Unlock()
	needed, err := s.SetupNeeded(ctx)
	if err != nil {
		return nil, err
	}
	if !needed || want == "" {
		return nil, apperr.New(apperr.ErrConflict, "setup_done", "Setup is already complete. Log in instead.")
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(strings.TrimSpace(in.Token))), []byte(want)) != 1 {
		_ = s.recordAnon(ctx, "", in.Email, m, "setup.token_rejected", nil)
		return nil, apperr.New(apperr.ErrForbidden, "invalid_setup_token",
			"The setup token is wrong. Use the token printed by the server or stored in the setup-token file of its data directory.")
	}
	var userID string
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		// A marker row makes a concurrent second setup fail on its key,
		// whatever the isolation level.
		if _, err := tx.Insert("settings", dbx.Params{"key": "setup_completed_at", "value": string(db.MustJSON(s.nowTime().String())),
			"updated_at": s.nowTime()}).WithContext(ctx).Execute(); err != nil {
			return apperr.New(apperr.ErrConflict, "setup_done", "Setup is already complete. Log in instead.")
		}
		var err error
		userID, err = s.createUser(ctx, tx, CreateUserParams{Email: in.Email, Name: in.Name, Password: in.Password,
			GroupIDs: []string{AdminsGroupID}})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), audit.Actor{UserID: userID, Label: in.Email, IP: m.IP, RequestID: m.RequestID},
			audit.Event{Action: "setup.completed", ObjectType: "user", ObjectID: userID})
	})
	if err != nil {
		return nil, err
	}
	s.setupMu.Lock()
	s.setupHash = ""
	if p := s.SetupTokenPath(); p != "" {
		_ = os.Remove(p)
	}
	s.setupMu.Unlock()
	return s.startSession(ctx, userID, m, "setup")
}
