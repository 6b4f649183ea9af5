package missions

import (
	"context"

	"github.com/pocketbase/dbx"
)

// Access returns the caller's role in a mission it may see, read through b
// (a transaction or a pool): the member role, or lead for holders of
// mission.read_all who are not members. Invisible and deleted missions are
// 404. archived reports whether the mission is archived (read-only).
func (s *Service) Access(ctx context.Context, b dbx.Builder, c Caller, missionID string) (role string, archived bool, err error) {
	a, err := s.load(ctx, b, c, missionID)
	if err != nil {
		return "", false, err
	}
	return a.role, a.mission.Status == StatusArchived, nil
}

// NeedLead demands what changing a whole mission needs (an import merging
// into it, a conflict resolution): mission.update, the lead role, and a
// mission that is not archived.
func (s *Service) NeedLead(ctx context.Context, b dbx.Builder, c Caller, missionID string) error {
	a, err := s.load(ctx, b, c, missionID)
	if err != nil {
		return err
	}
	if err := need(c, a, "mission.update", RoleLead); err != nil {
		return err
	}
	return writable(a)
}
