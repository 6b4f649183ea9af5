package server

// Instance backups (permission backup.manage): download a fresh backup,
// the backups kept in <data-dir>/backups (list, back up now, download,
// delete) and their schedule. Restoring is a console command
// (purplebook restore): it needs the server stopped.
func (s *Server) backupRoutes() []Route {
	const perm = "backup.manage"
	return []Route{
		{Method: "GET", Path: "/admin/backup", Access: Permission, Perm: perm, h: s.downloadBackup},
		{Method: "GET", Path: "/admin/backups", Access: Permission, Perm: perm, h: s.listBackups},
		{Method: "POST", Path: "/admin/backups", Access: Permission, Perm: perm, h: s.createBackup},
		{Method: "PUT", Path: "/admin/backups/schedule", Access: Permission, Perm: perm, h: s.putBackupSchedule},
		{Method: "GET", Path: "/admin/backups/:name", Access: Permission, Perm: perm, h: s.downloadStoredBackup},
		{Method: "DELETE", Path: "/admin/backups/:name", Access: Permission, Perm: perm, h: s.deleteBackup},
	}
}
