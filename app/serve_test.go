package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls the output until re matches it (the server is up) or the
// serve command ends.
func waitFor(t *testing.T, out *syncBuffer, re *regexp.Regexp, done <-chan error) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before printing %s: %v\n%s", re, err, out.String())
		case <-deadline:
			t.Fatalf("serve printed no %s:\n%s", re, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestServeRunsUntilCancelled starts the real serve command on a free port:
// it migrates, prints where it listens and how to finish setup, answers
// HTTP, refuses a second server on the same port, and stops cleanly when
// its context ends.
func TestServeRunsUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	var out, errOut syncBuffer
	e := env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, e, []string{"--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "json"})
	}()

	m := waitFor(t, &out, regexp.MustCompile(`listening on (http://127\.0\.0\.1:(\d+)/)\n`), done)
	base, port := m[1], m[2]
	assert.Contains(t, out.String(), "Data directory: "+dir+"\n")
	token, err := os.ReadFile(filepath.Join(dir, "setup-token"))
	require.NoError(t, err, "first run: a setup token")
	if service.Interactive() {
		assert.Contains(t, out.String(), base+"setup?token="+strings.TrimSpace(string(token)))
	} else {
		assert.Contains(t, out.String(), "enter the one-time token from "+filepath.Join(dir, "setup-token"))
		assert.NotContains(t, out.String(), strings.TrimSpace(string(token)), "no token in a service log")
	}
	assert.Contains(t, errOut.String(), `"msg":"server_started"`)

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	code, body := get("api/v1/health")
	assert.Equal(t, 200, code, body)
	code, body = get("api/v1/setup")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"needed":true}`, body)
	code, body = get("")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "<html")

	// A second server on the same port says what to do. (Logging is
	// process-wide: it keeps writing to errOut, as JSON.)
	err = runServe(context.Background(), env{stdout: io.Discard, stderr: &errOut, getenv: e.getenv},
		[]string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:" + port, "--log-format", "json"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is another purplebook running?")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	assert.Contains(t, errOut.String(), `"msg":"server_stopped"`)
	_, err = http.Get(base + "api/v1/health")
	assert.Error(t, err, "nothing listens any more")
}

func TestDisplayAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8421": "127.0.0.1:8421", "[::]:8421": "127.0.0.1:8421", "192.0.2.7:80": "192.0.2.7:80",
		"[2001:db8::1]:443": "[2001:db8::1]:443", "not an address": "not an address",
	} {
		assert.Equal(t, want, displayAddr(in), in)
	}
}
