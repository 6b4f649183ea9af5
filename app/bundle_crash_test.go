package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// realBinary is the purplebook binary: $PURPLEBOOK_BIN when set, else one
// built from this tree (with -tags postgres when this test binary has it).
func realBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("PURPLEBOOK_BIN"); p != "" && !slices.Contains(db.Available(), db.Postgres) {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "purplebook-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "purplebook")
		args := []string{"build", "-o", binPath}
		if slices.Contains(db.Available(), db.Postgres) {
			args = append(args, "-tags", "postgres")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// crashSource exports a mission with evidence from a throwaway instance.
func crashSource(t *testing.T) (path, missionID string) {
	t.Helper()
	ctx := context.Background()
	set, err := services.New(services.Options{DB: dbtest.New(t), DataDir: t.TempDir(), Key: []byte(strings.Repeat("k", 32)),
		Now: time.Now, Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	c := console()
	m, err := set.Missions.Create(ctx, c, missions.MissionInput{Name: "Crash course"})
	require.NoError(t, err)
	for i := range 5 {
		tt, err := set.Missions.AddTest(ctx, c, m.ID, missions.AddTestInput{Name: fmt.Sprintf("test %d", i), OpsecLevel: "low"})
		require.NoError(t, err)
		up, err := set.Evidence.Begin(ctx, c, m.ID, tt.ID)
		require.NoError(t, err)
		require.NoError(t, up.ReadFile(bytes.NewReader(bytes.Repeat([]byte(fmt.Sprintf("evidence %d\n", i)), 50_000)), "log.txt"))
		_, err = up.Commit(ctx)
		require.NoError(t, err)
	}
	x, err := set.Bundles.Prepare(ctx, c, m.ID, missionbundle.ExportOptions{Evidence: true, Blue: true})
	require.NoError(t, err)
	path = filepath.Join(t.TempDir(), "crash.pbz")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, x.WriteTo(ctx, f, nil))
	require.NoError(t, f.Close())
	return path, m.ID
}

// contentFiles lists the evidence content files of a data dir.
func contentFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dataDir, "evidence")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		require.NoError(t, err)
	}
	return out
}

// stagedFiles lists what the bundle staging areas hold besides their
// owner markers.
func stagedFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(dataDir, "bundles"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "owner" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func countMissions(t *testing.T, dsn string) int {
	t.Helper()
	d, err := db.Open(context.Background(), dsn)
	require.NoError(t, err)
	defer d.Close()
	var n int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM missions").Row(&n))
	return n
}

// TestImportKilledMidApply kills `purplebook bundle import` with SIGKILL
// inside its apply transaction, after the evidence was moved into the
// content store and before the commit, then restarts the server on the
// same data: the import never happened and nothing of it is left.
func TestImportKilledMidApply(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := realBinary(t)
	bundlePath, missionID := crashSource(t)
	dataDir := t.TempDir()
	dsn := filepath.Join(dataDir, "purplebook.db")
	if dbtest.Backend() == db.Postgres {
		dsn = dbtest.DSN(t)
	}
	hold := filepath.Join(t.TempDir(), "holding")
	var out syncBuffer
	cmd := exec.Command(bin, "bundle", "import", bundlePath, "--yes", "--data-dir", dataDir, "--db", dsn)
	cmd.Env = append(os.Environ(), EnvHoldApply+"="+hold)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(hold); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the import never reached its commit:\n%s", out.String())
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred cleanup runs
	_ = cmd.Wait()
	require.Contains(t, out.String(), "apply: holding before the commit")
	require.NotContains(t, out.String(), "apply: committed")
	require.NotEmpty(t, contentFiles(t, dataDir), "the evidence was moved in before the kill (what recovery must undo)")
	require.NotEmpty(t, stagedFiles(t, dataDir), "the staging and its journal are left behind by the kill")

	// Restart: the server starts on the same data.
	srv := exec.Command(bin, "serve", "--data-dir", dataDir, "--db", dsn, "--listen", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	require.NoError(t, err)
	var logs syncBuffer
	srv.Stderr = &logs
	require.NoError(t, srv.Start())
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
		}
	}()
	url := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			url = strings.TrimSpace(after)
			break
		}
	}
	require.NotEmpty(t, url, "the server did not start:\n%s", logs.String())
	go func() {
		for sc.Scan() {
		}
	}()
	resp, err := http.Get(url + "api/v1/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	assert.Zero(t, countMissions(t, dsn), "the state before the import")
	assert.Empty(t, contentFiles(t, dataDir), "no stray evidence")
	assert.Empty(t, stagedFiles(t, dataDir), "no stray staging")
	assert.Contains(t, logs.String(), "bundle_apply_interrupted")

	// And the same import now goes through.
	imp := exec.Command(bin, "bundle", "import", bundlePath, "--yes", "--data-dir", dataDir, "--db", dsn)
	res, err := imp.CombinedOutput()
	require.NoError(t, err, string(res))
	assert.Contains(t, string(res), "apply: committed")
	assert.Equal(t, 1, countMissions(t, dsn))
	assert.Len(t, contentFiles(t, dataDir), 5)
	_ = missionID
}
