// Package services builds the capability services of one Purplebook
// instance, wired to each other, in one place. The serve command, the CLI
// commands, the API tests and the benches all get their services here, so
// they run the same wiring: the same clock in every service, one
// notification hub per process, evidence limits read from the settings.
package services

import (
	"context"
	"errors"
	"time"

	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/purplebook/purplebook/app/bundle/librarybundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/datadir"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/diag"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/purplebook/purplebook/app/results"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/purplebook/purplebook/app/templates"
)

// Options are what the services need from outside.
type Options struct {
	DB      *db.DB            // open and migrated
	DataDir string            // evidence, the signing key and the setup token live here
	Key     []byte            // access-token signing key (≥ 32 bytes); nil = load or create <DataDir>/secret.key
	Now     func() time.Time  // the clock of every service; nil = time.Now
	Argon2  auth.Argon2Params // password hashing cost; zero = auth.DefaultArgon2
	// BeforeBundleCommit, when set, runs inside a bundle import's
	// transaction just before the commit (the crash test holds it there).
	BeforeBundleCommit func(ctx context.Context) error
	// ImportDir is the server directory ATT&CK syncs over the API may read
	// bundles from by name ("" = none).
	ImportDir string
	// Temp is the process's temporary area in the data dir; nil = New
	// opens one (and Set.Close removes it).
	Temp *datadir.Temp
}

// Set is every capability service of an instance.
type Set struct {
	DB      *db.DB
	DataDir string
	Now     func() time.Time // the clock the services share
	// Temp is the process's temporary area, <data-dir>/tmp/<run>: every
	// temporary file (uploads, archives) is made there.
	Temp *datadir.Temp

	Settings  *settings.Service
	Auth      *auth.Service
	Mitre     *mitre.Service
	Templates *templates.Service
	Levels    *levels.Service
	Notify    *notify.Service
	Missions  *missions.Service
	Evidence  *evidence.Service
	Results   *results.Service
	// Identity is the instance's id, name and signing key (bundles).
	Identity *bundle.Identity
	// Bundles exports, imports and merges mission bundles.
	Bundles *missionbundle.Service
	// Backups takes instance backups (download, "back up now", schedule).
	Backups *instancebundle.Service
	// Library exports and imports library bundles (templates, scenarios,
	// detection levels, security controls).
	Library *librarybundle.Service
}

// New builds the set. It creates the evidence directories under DataDir
// and, when no key is given, the signing key.
func New(o Options) (*Set, error) {
	if o.DB == nil {
		return nil, errors.New("services: no database")
	}
	if o.DataDir == "" {
		return nil, errors.New("services: no data directory")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Key == nil {
		key, err := auth.LoadOrCreateKey(o.DataDir)
		if err != nil {
			return nil, err
		}
		o.Key = key
	}
	if o.Temp == nil {
		t, _, err := datadir.OpenTemp(o.DataDir)
		if err != nil {
			return nil, err
		}
		o.Temp = t
	}
	s := &Set{DB: o.DB, DataDir: o.DataDir, Now: o.Now, Temp: o.Temp}
	s.Settings = settings.New(settings.Options{DB: o.DB, Now: o.Now})
	var err error
	if s.Auth, err = auth.New(auth.Options{DB: o.DB, Key: o.Key, DataDir: o.DataDir, Argon2: o.Argon2, Now: o.Now,
		Settings: s.Settings}); err != nil {
		return nil, err
	}
	s.Mitre = mitre.New(mitre.Options{DB: o.DB, Now: o.Now, ImportDir: o.ImportDir, Hosts: s.Settings})
	s.Templates = templates.New(templates.Options{DB: o.DB, Mitre: s.Mitre, Now: o.Now, TempDir: o.Temp.Dir()})
	s.Levels = levels.New(levels.Options{DB: o.DB, Now: o.Now})
	s.Notify = notify.New(notify.Options{DB: o.DB, Now: o.Now})
	s.Missions = missions.New(missions.Options{DB: o.DB, Templates: s.Templates, Mitre: s.Mitre, Levels: s.Levels,
		Settings: s.Settings, Notify: s.Notify, Now: o.Now})
	if s.Evidence, err = evidence.New(evidence.Options{DB: o.DB, Missions: s.Missions, Limits: s.Settings, DataDir: o.DataDir,
		TempDir: o.Temp.Dir(), Now: o.Now}); err != nil {
		return nil, err
	}
	s.Results = results.New(results.Options{DB: o.DB, Missions: s.Missions, Mitre: s.Mitre, Templates: s.Templates,
		Settings: s.Settings, Now: o.Now})
	if s.Identity, err = bundle.LoadIdentity(context.Background(), o.DB, o.DataDir, o.Now); err != nil {
		return nil, err
	}
	if s.Bundles, err = missionbundle.New(missionbundle.Options{DB: o.DB, Missions: s.Missions, Evidence: s.Evidence,
		Settings: s.Settings, Identity: s.Identity, Now: o.Now, AppVersion: diag.BuildVersion(),
		BeforeCommit: o.BeforeBundleCommit}); err != nil {
		return nil, err
	}
	if s.Backups, err = instancebundle.New(instancebundle.Options{DB: o.DB, Evidence: s.Evidence, Identity: s.Identity,
		DataDir: o.DataDir, AppVersion: diag.BuildVersion(), Now: o.Now}); err != nil {
		return nil, err
	}
	if s.Library, err = librarybundle.New(librarybundle.Options{DB: o.DB, Templates: s.Templates, Levels: s.Levels, Settings: s.Settings,
		Identity: s.Identity, AppVersion: diag.BuildVersion(), Now: o.Now}); err != nil {
		return nil, err
	}
	return s, nil
}

// Close removes the process's temporary area. The database is the
// caller's to close.
func (s *Set) Close() error { return s.Temp.Close() }
