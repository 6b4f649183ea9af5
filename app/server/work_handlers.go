package server

import (
	"net/http"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/diag"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/uptrace/bunrouter"
)

// Home and System: the signed-in user's work in one call, and the
// installation's state for administrators.
func (s *Server) workRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/me/work", Access: Authenticated, h: s.myWork, Summary: "My Home: missions, tests waiting for me by role, notifications, catalogue", Out: workView{}},
		{Method: "GET", Path: "/system", Access: Permission, Perm: "settings.manage", h: s.system, Summary: "System: version, data dir, disk use, database, backups", Out: diag.System{}},
	}
}

// workNotificationCount is how many recent notifications Home shows.
const workNotificationCount = 5

// myWork is Home: my open missions with progress, the tests waiting for me
// by role, my recent notifications and the catalogue's status. Without
// mission.read the mission parts are empty.
// workView is the signed-in user's Home: missions and tests waiting by
// role, the latest notifications, the catalogue's state.
type workView struct {
	missions.Work
	Notifications struct {
		Items  []notify.Notification `json:"items"`
		Unread int                   `json:"unread"`
	} `json:"notifications"`
	Catalogue mitre.Status `json:"catalogue"`
}

func (s *Server) myWork(w http.ResponseWriter, req bunrouter.Request) error {
	ctx := req.Context()
	c := caller(req)
	var out workView
	if c.Can("mission.read") {
		work, err := s.opts.Missions.Work(ctx, c)
		if err != nil {
			return err
		}
		out.Work = work
	} else {
		empty := missions.WorkList{Items: []missions.WorkItem{}}
		out.Work = missions.Work{Missions: missions.WorkMissions{Items: []missions.Mission{}}, Roles: []string{},
			ToExecute: empty, ToAssess: empty, ToReview: empty}
	}
	page, err := s.opts.Notify.List(ctx, c.UserID, notify.ListParams{PageParams: db.PageParams{Page: 1, PerPage: workNotificationCount}})
	if err != nil {
		return err
	}
	out.Notifications.Items = page.Items
	if out.Notifications.Unread, err = s.opts.Notify.UnreadCount(ctx, c.UserID); err != nil {
		return err
	}
	if out.Catalogue, err = s.opts.Mitre.Status(ctx); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// system reports version, data dir, disk use and free space, the database
// and the backups.
func (s *Server) system(w http.ResponseWriter, req bunrouter.Request) error {
	st := diag.SystemInfo(req.Context(), s.opts.DB, s.opts.DataDir)
	if s.opts.Version != "" {
		st.Version = s.opts.Version
	}
	return writeJSON(w, http.StatusOK, st)
}
