package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openBackup checks that body is a backup this instance signed.
func openBackup(t *testing.T, e *apiEnv, body []byte) bundle.Manifest {
	t.Helper()
	r, err := bundle.NewReader(bytes.NewReader(body), int64(len(body)), instancebundle.Limits)
	require.NoError(t, err)
	require.NoError(t, r.Verify(context.Background(), nil, nil))
	m := r.Manifest()
	assert.Equal(t, bundle.KindInstance, m.Kind)
	assert.Equal(t, e.set.Identity.Fingerprint(), r.Fingerprint())
	return m
}

func TestBackupRoutes(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, viewer := e.user("viewer@example.com", groupViewers)

	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/admin/backup", ""}, {"GET", "/admin/backups", ""}, {"POST", "/admin/backups", ""},
		{"PUT", "/admin/backups/schedule", `{"interval_hours":1,"keep":2}`},
		{"GET", "/admin/backups/purplebook-backup-20260101T000000.000Z.pbz", ""},
		{"DELETE", "/admin/backups/purplebook-backup-20260101T000000.000Z.pbz", ""},
	} {
		admErr(t, e, tc.method, "/api/v1"+tc.path, tc.body, viewer, 403)
	}

	list := admDo(t, e, "GET", "/api/v1/admin/backups", "", e.admin, 200)
	assert.Empty(t, list["items"])
	assert.Equal(t, map[string]any{"interval_hours": 0.0, "keep": 7.0}, list["schedule"])
	assert.Equal(t, filepath.Join(e.dataDir, "backups"), list["directory"])

	for _, bad := range []string{`{"interval_hours":-1,"keep":2}`, `{"interval_hours":1,"keep":0}`, `{"interval_hours":1}`, `{"interval_hours":1,"keep":2,"x":1}`} {
		admErr(t, e, "PUT", "/api/v1/admin/backups/schedule", bad, e.admin, 422)
	}
	assert.Equal(t, map[string]any{"interval_hours": 24.0, "keep": 3.0},
		admDo(t, e, "PUT", "/api/v1/admin/backups/schedule", `{"interval_hours":24,"keep":3}`, e.admin, 200))
	// The schedule is not a general setting: settings.manage alone cannot change it.
	admErr(t, e, "PUT", "/api/v1/settings/backup_schedule", `{"value":{"interval_hours":1,"keep":1}}`, e.admin, 404)

	// A fresh backup, streamed.
	rec := e.call("GET", "/api/v1/admin/backup", "", e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Disposition"), "attachment")
	m := openBackup(t, e, rec.Body.Bytes())
	assert.Positive(t, m.SchemaVersion)

	// Back up now, list, download, delete.
	created := admDo(t, e, "POST", "/api/v1/admin/backups", "", e.admin, 201)
	name := created["name"].(string)
	assert.Regexp(t, `^purplebook-backup-\d{8}T\d{6}\.\d{3}Z\.pbz$`, name)
	list = admDo(t, e, "GET", "/api/v1/admin/backups", "", e.admin, 200)
	require.Len(t, list["items"], 1)
	rec = e.call("GET", "/api/v1/admin/backups/"+name, "", e.admin)
	require.Equal(t, 200, rec.Code)
	stored, err := os.ReadFile(filepath.Join(e.dataDir, "backups", name))
	require.NoError(t, err)
	assert.Equal(t, stored, rec.Body.Bytes())
	openBackup(t, e, rec.Body.Bytes())
	admErr(t, e, "GET", "/api/v1/admin/backups/..%2Fpurplebook.db", "", e.admin, 404)
	admDo(t, e, "DELETE", "/api/v1/admin/backups/"+name, "", e.admin, 204)
	admErr(t, e, "DELETE", "/api/v1/admin/backups/"+name, "", e.admin, 404)

	var actions []string
	require.NoError(t, e.db.Read.NewQuery("SELECT action FROM audit_events WHERE object_type = 'backup' ORDER BY seq").Column(&actions))
	assert.Equal(t, []string{"backup.download", "backup.create", "backup.download", "backup.delete"}, actions)
}

// TestBackupDownloadWhileWriting: 20 clients write through the API while
// an administrator downloads a backup: no client sees an error, and the
// backup verifies.
func TestBackupDownloadWhileWriting(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	mission := admDo(t, e, "POST", "/api/v1/missions", `{"name":"Busy"}`, e.admin, 201)
	mid := mission["id"].(string)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rec := e.call("POST", "/api/v1/missions/"+mid+"/tests", fmt.Sprintf(`{"name":"writer %d test %d"}`, w, i), e.admin)
				if rec.Code != http.StatusCreated {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d: %s", rec.Code, rec.Body.String()))
					mu.Unlock()
					return
				}
			}
		}(w)
	}
	rec := e.call("GET", "/api/v1/admin/backup", "", e.admin)
	close(stop)
	wg.Wait()
	require.Equal(t, 200, rec.Code)
	openBackup(t, e, rec.Body.Bytes())
	assert.Empty(t, failures, "no writer failed during the backup")
}

// TestLibraryBundleAPI: GET /library/bundle on A, POST /bundles on B (the
// dry run, kind library), apply: B's library has A's template; a viewer may
// not export.
func TestLibraryBundleAPI(t *testing.T) {
	t.Parallel()
	a, b := newAPIEnv(t), newAPIEnv(t)
	a.setupAdmin()
	b.setupAdmin()
	admDo(t, a, "POST", "/api/v1/test-templates", `{"name":"Dump LSASS","platforms":["windows"],"opsec_level":"medium"}`, a.admin, 201)
	_, viewer := a.user("viewer@example.com", groupViewers)
	admErr(t, a, "GET", "/api/v1/library/bundle", "", viewer, 403) // no bundle.export

	rec := a.call("GET", "/api/v1/library/bundle", "", a.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Disposition"), "purplebook-library-")
	dry, done := b.importBundle(b.admin, rec.Body.Bytes(), `{"accept_untrusted":true}`)
	assert.Equal(t, "library", dry["kind"])
	assert.Equal(t, true, dry["dry_run"])
	assert.EqualValues(t, 1, dry["templates"].(map[string]any)["created"])
	assert.Equal(t, false, done["dry_run"])
	list := admDo(t, b, "GET", "/api/v1/test-templates?q=lsass", "", b.admin, 200)
	assert.EqualValues(t, 1, list["total"])
}
