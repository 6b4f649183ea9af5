// Package results turns recorded outcomes into results: the scoring
// (scoring.go, docs/RESULTS.md), a mission's results (heatmap, outcome mix
// per tactic and per security control, times to log/alert/prevent,
// findings), the organisation-wide coverage and trends over the aggregates
// kept by app/tally, ATT&CK Navigator layers out (format 4.5) and in (4.x,
// 3.x → a scenario template through app/templates), and the CSV, JSON and
// self-contained HTML reports.
package results

import (
	"context"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/purplebook/purplebook/app/templates"
)

// Organisation is how reports name the organisation (settings
// organisation_name and organisation_logo).
type Organisation struct {
	Name string
	Logo string // a data: URL of a PNG, JPEG, GIF or WebP image, or ""
}

// Options are the service's dependencies.
type Options struct {
	DB        *db.DB
	Missions  *missions.Service
	Mitre     *mitre.Service
	Templates *templates.Service
	Settings  *settings.Service
	Now       func() time.Time
}

// Service is the results capability.
type Service struct {
	db        *db.DB
	missions  *missions.Service
	mitre     *mitre.Service
	templates *templates.Service
	settings  *settings.Service
	now       func() time.Time
}

// New builds the service.
func New(o Options) *Service {
	s := &Service{db: o.DB, missions: o.Missions, mitre: o.Mitre, templates: o.Templates, settings: o.Settings, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *Service) organisation(ctx context.Context) (Organisation, error) {
	name, logo, err := s.settings.Organisation(ctx)
	return Organisation{Name: name, Logo: logo}, err
}
