// Package diag reports what the running instance is: build version and the
// state of its database.
package diag

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/db"
)

// Version is set at build time with
// -ldflags "-X github.com/purplebook/purplebook/app/diag.Version=v1.2.3".
var Version = ""

var versionOnce sync.Once

// BuildVersion returns the ldflags version, else the module version or VCS
// revision recorded by the Go toolchain, else "dev".
func BuildVersion() string {
	versionOnce.Do(func() {
		if Version != "" {
			return
		}
		info, ok := debug.ReadBuildInfo()
		Version = versionOf(info, ok)
	})
	return Version
}

// versionOf is the version the toolchain recorded: the module version, else
// dev-<first 12 hex of the VCS revision>[-dirty], else "dev".
func versionOf(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) < 12 {
		return "dev"
	}
	v := "dev-" + rev[:12]
	if modified == "true" {
		v += "-dirty"
	}
	return v
}

// DBStatus is the answer of GET /api/v1/diag/db.
type DBStatus struct {
	Reachable        bool   `json:"reachable"`
	Driver           string `json:"driver"`
	MigrationVersion uint   `json:"migration_version"`
	LatestVersion    uint   `json:"latest_version"`
	Dirty            bool   `json:"dirty"`
	TableCount       int    `json:"table_count"`
	Error            string `json:"error,omitempty"`
}

// Database checks the database with a short deadline. An outage is reported
// in the result (Reachable false), not as an error.
func Database(ctx context.Context, d *db.DB) DBStatus {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st := DBStatus{Driver: d.Driver()}
	if err := d.Ping(ctx); err != nil {
		st.Error = "the database does not answer"
		return st
	}
	ms, err := d.State(ctx)
	if err != nil {
		st.Error = "cannot read the migration state"
		return st
	}
	tables, err := d.TableCount(ctx)
	if err != nil {
		st.Error = "cannot read the schema"
		return st
	}
	st.Reachable = true
	st.MigrationVersion = ms.Version
	st.LatestVersion = ms.Latest
	st.Dirty = ms.Dirty
	st.TableCount = tables
	return st
}
