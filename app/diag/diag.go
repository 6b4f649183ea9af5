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
		Version = "dev"
		info, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if v := info.Main.Version; v != "" && v != "(devel)" {
			Version = v
			return
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
		if len(rev) >= 12 {
			Version = "dev-" + rev[:12]
			if modified == "true" {
				Version += "-dirty"
			}
		}
	})
	return Version
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
