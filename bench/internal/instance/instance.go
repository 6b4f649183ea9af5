// Package instance starts a real purplebook binary on a fresh data dir for
// the benches that need a whole process (load, soak, kill -9): it creates
// the administrator from the console, imports the ATT&CK catalogue, serves
// on a free loopback port and talks to it over HTTP.
package instance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Admin credentials of every bench instance.
const (
	Email    = "bench@example.com"
	Password = "bench password for the load 1"
)

// Instance is a data dir and, while running, the server process on it.
type Instance struct {
	Bin, Dir string
	URL      string // http://127.0.0.1:port
	Cmd      *exec.Cmd
	Token    string // pbk_ token of the administrator
	Client   *http.Client
	log      *os.File
}

// New makes a data dir with an administrator; attack, when not empty, is
// a bundle file imported from the console first.
func New(bin, attack string) (*Instance, error) {
	dir, err := os.MkdirTemp("", "pb-bench-")
	if err != nil {
		return nil, err
	}
	in := &Instance{Bin: bin, Dir: dir, Client: &http.Client{Timeout: 5 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 200}}}
	cmd := exec.Command(bin, "user", "create-admin", "--data-dir", dir, "--email", Email, "--name", "Bench")
	cmd.Stdin = strings.NewReader(Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("create-admin: %v: %s", err, out)
	}
	if attack != "" {
		out, err := exec.Command(bin, "mitre", "sync", "--data-dir", dir, "--source", attack, "--allow-unverified").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("mitre sync: %v: %s", err, out)
		}
	}
	return in, nil
}

// Start runs `purplebook serve` and waits until it answers /health.
func (in *Instance) Start() error {
	logf, err := os.OpenFile(filepath.Join(os.TempDir(), filepath.Base(in.Dir)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	in.log = logf
	cmd := exec.Command(in.Bin, "serve", "--data-dir", in.Dir, "--listen", "127.0.0.1:0", "--log-level", "warn")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	in.Cmd = cmd
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(2 * time.Minute)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "listening on "); i >= 0 {
			in.URL = strings.TrimSuffix(strings.TrimSpace(line[i+len("listening on "):]), "/")
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if in.URL == "" {
		_ = cmd.Process.Kill()
		return fmt.Errorf("serve did not start (see %s)", logf.Name())
	}
	for time.Now().Before(deadline) {
		if code, _, _ := in.Do("GET", "/api/v1/health", "", nil); code == 200 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("serve does not answer /health")
}

// Kill ends the server with SIGKILL (a crash) and waits for it.
func (in *Instance) Kill() {
	if in.Cmd == nil {
		return
	}
	_ = in.Cmd.Process.Signal(syscall.SIGKILL)
	_ = in.Cmd.Wait()
	in.Cmd = nil
	if in.log != nil {
		in.log.Close()
	}
}

// Stop ends the server gracefully.
func (in *Instance) Stop() {
	if in.Cmd == nil {
		return
	}
	_ = in.Cmd.Process.Signal(syscall.SIGTERM)
	_ = in.Cmd.Wait()
	in.Cmd = nil
	if in.log != nil {
		in.log.Close()
	}
}

// Remove deletes the data dir.
func (in *Instance) Remove() { _ = os.RemoveAll(in.Dir) }

// Do sends a request with the administrator's token (once it has one).
func (in *Instance) Do(method, path, contentType string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequest(method, in.URL+path, body)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if in.Token != "" {
		req.Header.Set("Authorization", "Bearer "+in.Token)
	}
	resp, err := in.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// JSON sends a JSON body and decodes a JSON answer into out (may be nil);
// a status other than want is an error.
func (in *Instance) JSON(method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	code, b, err := in.Do(method, path, "application/json", r)
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// SignIn logs the administrator in and makes a pbk_ token for the bench.
func (in *Instance) SignIn() error {
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if err := in.JSON("POST", "/api/v1/auth/login", map[string]string{"email": Email, "password": Password}, 200, &s); err != nil {
		return err
	}
	in.Token = s.AccessToken
	var t struct {
		Token string `json:"token"`
	}
	if err := in.JSON("POST", "/api/v1/api-tokens", map[string]string{"name": "bench"}, 201, &t); err != nil {
		return err
	}
	in.Token = t.Token
	return nil
}

// Multipart builds a multipart body: fields first, then one file part.
func Multipart(fields map[string]string, fileField, fileName string, file io.Reader) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		fw, err := mw.CreateFormFile(fileField, fileName)
		if err == nil {
			_, err = io.Copy(fw, file)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

// RSS is the resident set size of pid in bytes (Linux).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d kB", &kb)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}
