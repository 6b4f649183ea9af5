// Command serveprof runs the purplebook command line (app.Main: the same
// code as the binary, usually `serve …`) under a CPU profile, written when
// the command returns (for serve: on SIGTERM or Ctrl-C). bench/mitre.sh
// uses it with PROFILE=file to show where a wrk run's time goes:
//
//	go run ./bench/serveprof -cpuprofile cpu.prof serve --data-dir D --listen 127.0.0.1:8421
//	go tool pprof -top cpu.prof
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/purplebook/purplebook/app"
)

func main() {
	out := flag.String("cpuprofile", "cpu.prof", "where the CPU profile goes")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serveprof:", err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "serveprof:", err)
		os.Exit(1)
	}
	code := app.Main(flag.Args(), os.Stdout, os.Stderr, os.Getenv)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "serveprof:", err)
		code = 1
	}
	os.Exit(code)
}
