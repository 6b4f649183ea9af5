package server

import (
	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/purplebook/purplebook/app/settings"
)

// Instance backups (permission backup.manage): download a fresh backup,
// the backups kept in <data-dir>/backups (list, back up now, download,
// delete) and their schedule. Restoring is a console command
// (purplebook restore): it needs the server stopped.
func (s *Server) backupRoutes() []Route {
	const perm = "backup.manage"
	return []Route{
		{Method: "GET", Path: "/admin/backup", Access: Permission, Perm: perm, h: s.downloadBackup,
			Summary: "Download a fresh backup of the whole instance (streamed from one snapshot)", Out: Media{Type: BundleContentType, Desc: "The signed instance bundle (zip)"}},
		{Method: "GET", Path: "/admin/backups", Access: Permission, Perm: perm, h: s.listBackups, Summary: "Stored backups, the schedule and the backups directory", Out: backupList{}},
		{Method: "POST", Path: "/admin/backups", Access: Permission, Perm: perm, h: s.createBackup, Summary: "Back up now into the backups directory", In: struct{}{}, Out: instancebundle.Stored{}, Status: 201},
		{Method: "PUT", Path: "/admin/backups/schedule", Access: Permission, Perm: perm, h: s.putBackupSchedule, Summary: "Set the backup schedule (interval in hours, 0 = off; how many to keep)", In: settings.Schedule{}, Out: settings.Schedule{}},
		{Method: "GET", Path: "/admin/backups/:name", Access: Permission, Perm: perm, h: s.downloadStoredBackup, Summary: "Download a stored backup", Out: Media{Type: BundleContentType, Desc: "The stored instance bundle (zip)"}},
		{Method: "DELETE", Path: "/admin/backups/:name", Access: Permission, Perm: perm, h: s.deleteBackup, Summary: "Delete a stored backup", Status: 204},
	}
}
