// Command hotreads puts a real purplebook process (the built binary, SQLite,
// the full ATT&CK catalogue, a mission of 200 tests) under load:
//
//  1. wrk on the hot reads — catalogue search, a board page, the unread
//     notification count — each beside bench/bare serving the same bytes
//     from a plain net/http handler, printing requests/s and the ratio;
//
//  2. a soak: the maximum rate of the three reads mixed (closed loop, -c
//     connections), then half of it as a steady open-loop rate for -soak,
//     sampling the server's RSS every 10 s; flat means every sample after
//     the first minute within 10% of their mean.
//
//     make build && go build -o bin/bare ./bench/bare
//     go run ./bench/hotreads -bin bin/purplebook -bare bin/bare [-wrk-duration 10s] [-soak 10m]
//
// bench/hotreads.sh does the builds. -soak 0 skips the soak, -wrk-duration
// 0 the wrk runs.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/purplebook/purplebook/bench/internal/benchkit"
	"github.com/purplebook/purplebook/bench/internal/instance"
)

func main() {
	bin := flag.String("bin", "bin/purplebook", "purplebook binary")
	bare := flag.String("bare", "bin/bare", "bench/bare binary")
	attack := flag.String("attack", "../shared/testdata/attack/enterprise-attack.json.gz", "ATT&CK bundle to import")
	wrkDur := flag.Duration("wrk-duration", 10*time.Second, "length of each wrk run (0 = skip)")
	conns := flag.Int("c", 50, "connections")
	threads := flag.Int("t", 2, "wrk threads")
	soak := flag.Duration("soak", 10*time.Minute, "soak length at half the maximum rate (0 = skip)")
	flag.Parse()

	in, err := instance.New(*bin, *attack)
	check(err)
	defer in.Remove()
	check(in.Start())
	defer in.Stop()
	check(in.SignIn())
	var mission struct {
		ID string `json:"id"`
	}
	check(in.JSON("POST", "/api/v1/missions", map[string]string{"name": "Load"}, 201, &mission))
	for i := 0; i < 200; i++ {
		check(in.JSON("POST", "/api/v1/missions/"+mission.ID+"/tests", map[string]string{"name": fmt.Sprintf("Test %03d", i)}, 201, nil))
	}
	paths := []struct{ name, path string }{
		{"catalogue search", "/api/v1/mitre/techniques?q=powershell"},
		{"board page (200 tests)", "/api/v1/missions/" + mission.ID + "/tests?per_page=200"},
		{"notifications count", "/api/v1/notifications/unread-count"},
	}
	fmt.Printf("purplebook %s on %s, data dir %s\n", *bin, in.URL, in.Dir)

	if *wrkDur > 0 {
		fmt.Printf("\nwrk -t%d -c%d -d%s (requests/s; bare = the same bytes from a plain net/http handler)\n", *threads, *conns, *wrkDur)
		fmt.Printf("%-26s %12s %12s %8s %10s\n", "read", "purplebook", "bare", "ratio", "bytes")
		for _, p := range paths {
			code, body, err := in.Do("GET", p.path, "", nil)
			check(err)
			if code != 200 {
				check(fmt.Errorf("%s: %d %s", p.path, code, body))
			}
			f := filepath.Join(in.Dir, "body.json")
			check(os.WriteFile(f, body, 0o600))
			bareURL, stop := startBare(*bare, f)
			pb := wrk(*threads, *conns, *wrkDur, in.URL+p.path, in.Token)
			bb := wrk(*threads, *conns, *wrkDur, bareURL, "")
			stop()
			fmt.Printf("%-26s %12.0f %12.0f %7.1f%% %10d\n", p.name, pb, bb, 100*pb/bb, len(body))
			benchkit.Figure{Name: "hotreads_" + strings.NewReplacer(" ", "_", "(", "", ")", "").Replace(p.name), Value: pb, Unit: "req/s",
				Floor: bb, HasFloor: true, Label: fmt.Sprintf("%s, wrk -c%d", p.name, *conns), FloorLabel: "bare net/http, same bytes"}.Print()
		}
	}
	if *soak <= 0 {
		return
	}
	// Maximum rate of the mix, closed loop.
	max := load(in, paths2(paths), *conns, 10*time.Second, 0)
	rate := max / 2
	fmt.Printf("\nsoak: maximum %.0f req/s (mix of the three reads, %d connections); holding %.0f req/s for %s\n", max, *conns, rate, *soak)
	pid := in.Cmd.Process.Pid
	var samples []int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rss, err := instance.RSS(pid)
				check(err)
				samples = append(samples, rss)
				fmt.Printf("  %6s  RSS %7.1f MiB\n", time.Since(start).Round(time.Second), float64(rss)/(1<<20))
			}
		}
	}()
	got := load(in, paths2(paths), *conns, *soak, rate)
	close(done)
	wg.Wait()
	fmt.Printf("soak: %.0f req/s held\n", got)
	flat(samples)
}

func paths2(ps []struct{ name, path string }) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.path
	}
	return out
}

// flat reports whether the samples after the first minute stay within 10%
// of their mean.
func flat(samples []int64) {
	if len(samples) < 2 {
		fmt.Println("RSS: too few samples for a verdict (run the soak for a minute or more)")
		return
	}
	s := samples
	if len(s) > 6 {
		s = s[6:] // after the first minute (warm-up: caches, pools)
	} else {
		s = s[1:]
	}
	var sum, lo, hi int64 = 0, s[0], s[0]
	for _, x := range s {
		sum += x
		lo, hi = min(lo, x), max(hi, x)
	}
	mean := float64(sum) / float64(len(s))
	spread := 100 * (float64(hi) - float64(lo)) / mean
	verdict := "FLAT"
	if float64(hi) > 1.1*mean || float64(lo) < 0.9*mean {
		verdict = "NOT FLAT"
	}
	fmt.Printf("RSS after warm-up: mean %.1f MiB, min %.1f, max %.1f (spread %.1f%% of the mean): %s (within 10%%)\n",
		mean/(1<<20), float64(lo)/(1<<20), float64(hi)/(1<<20), spread, verdict)
	benchkit.Figure{Name: "hotreads_soak_rss_spread", Value: spread, Unit: "%", Goal: "<=20",
		Label: "soak at half the maximum rate: RSS spread after warm-up (within ±10% of the mean)"}.Print()
}

// load sends GETs of paths round robin from conns workers for d: as fast
// as answered (rate 0) or at rate requests/s overall. It returns the rate
// achieved; errors end the program.
func load(in *instance.Instance, paths []string, conns int, d time.Duration, rate float64) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n, fails atomic.Int64
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				code, _, err := in.Do("GET", paths[i%len(paths)], "", nil)
				if ctx.Err() != nil {
					return
				}
				if err != nil || code != 200 {
					fails.Add(1)
					continue
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if f := fails.Load(); f > 0 {
		fmt.Printf("  %d failed requests\n", f)
	}
	return float64(n.Load()) / time.Since(start).Seconds()
}

var reqSec = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func wrk(threads, conns int, d time.Duration, url, token string) float64 {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + d.String(), url}
	if token != "" {
		args = append([]string{"-H", "Authorization: Bearer " + token}, args...)
	}
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		check(fmt.Errorf("wrk: %v: %s", err, out))
	}
	if strings.Contains(string(out), "Non-2xx") {
		check(fmt.Errorf("wrk saw errors: %s", out))
	}
	m := reqSec.FindSubmatch(out)
	if m == nil {
		check(fmt.Errorf("wrk output: %s", out))
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func startBare(bin, body string) (string, func()) {
	cmd := exec.Command(bin, "-body", body)
	stdout, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		check(fmt.Errorf("bare did not start"))
	}
	return "http://" + strings.TrimSpace(sc.Text()) + "/", func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "hotreads:", err)
		os.Exit(1)
	}
}
