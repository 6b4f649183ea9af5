package missionbundle

import (
	"context"
	"errors"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/settings"
)

// Options are the service's dependencies.
type Options struct {
	DB         *db.DB
	Missions   *missions.Service
	Evidence   *evidence.Service
	Settings   *settings.Service
	Identity   *bundle.Identity
	Now        func() time.Time
	AppVersion string
	// BeforeCommit, when set, runs inside an apply's transaction after every
	// write and before the commit (the crash test holds the apply there).
	BeforeCommit func(ctx context.Context) error
}

// Service exports, imports and merges mission bundles.
type Service struct {
	o Options
}

// New builds the service.
func New(o Options) (*Service, error) {
	switch {
	case o.DB == nil || o.Missions == nil || o.Evidence == nil || o.Settings == nil:
		return nil, errors.New("missionbundle: missing a dependency")
	case o.Identity == nil:
		return nil, errors.New("missionbundle: no instance identity")
	case o.Now == nil:
		return nil, errors.New("missionbundle: no clock")
	}
	if o.AppVersion == "" {
		o.AppVersion = "dev"
	}
	return &Service{o: o}, nil
}

// Identity is the instance identity bundles are signed with.
func (s *Service) Identity() *bundle.Identity { return s.o.Identity }

func (s *Service) now() db.Time { return db.NewTime(s.o.Now()) }

func forbidden(perm string) error {
	return apperr.New(apperr.ErrForbidden, "forbidden", "You need the %q permission to do this.", perm).
		WithDetails(map[string]any{"permission": perm})
}
