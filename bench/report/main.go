// Command report reads the BENCH lines of bench logs (bench/README.md) and
// prints the closing table of `make bench`: figure, goal, measured, floor,
// ratio (measured ÷ floor), met / not met. A BENCH_FAILED line (written by
// bench/all.sh for a bench that exited non-zero) becomes a row of its own.
// It never fails: a bench reports, it does not judge the build.
//
//	go run ./bench/report bin/bench/*.log
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type figure struct {
	bench                           string // log it came from
	name, unit, goal, label, flabel string
	value, floor                    float64
	hasFloor                        bool
}

func main() {
	var figs []figure
	var failed []string
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			continue
		}
		bench := strings.TrimSuffix(filepath.Base(path), ".log")
		fs, fails := parse(bench, f)
		f.Close()
		figs = append(figs, fs...)
		failed = append(failed, fails...)
	}
	print(os.Stdout, figs, failed)
}

// parse collects the BENCH lines of one log.
func parse(bench string, r io.Reader) ([]figure, []string) {
	var figs []figure
	var failed []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "BENCH_FAILED "):
			kv := fields(strings.TrimPrefix(line, "BENCH_FAILED "))
			failed = append(failed, fmt.Sprintf("%s (exit %s)", kv["name"], kv["rc"]))
		case strings.HasPrefix(line, "BENCH "):
			kv := fields(strings.TrimPrefix(line, "BENCH "))
			v, err := strconv.ParseFloat(kv["value"], 64)
			if err != nil || kv["name"] == "" {
				continue // a figure that could not be measured (empty value)
			}
			f := figure{bench: bench, name: kv["name"], unit: kv["unit"], goal: kv["goal"], label: kv["label"], flabel: kv["floor_label"], value: v}
			if s, ok := kv["floor"]; ok {
				if fl, err := strconv.ParseFloat(s, 64); err == nil {
					f.floor, f.hasFloor = fl, true
				}
			}
			figs = append(figs, f)
		}
	}
	return figs, failed
}

// fields splits `k=v k2="quoted v"` pairs.
func fields(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			if q, err := strconv.QuotedPrefix(s); err == nil {
				v, _ = strconv.Unquote(q)
				s = s[len(q):]
			} else {
				v, s = s[1:], ""
			}
		} else if sp := strings.IndexByte(s, ' '); sp >= 0 {
			v, s = s[:sp], s[sp:]
		} else {
			v, s = s, ""
		}
		out[k] = v
	}
	return out
}

// verdict evaluates goal ("<=10", ">=0.5", "=0", "<5", ">5") on v.
func verdict(goal string, v float64) string {
	if goal == "" {
		return "—"
	}
	op := strings.TrimRight(goal, "0123456789.-+e")
	want, err := strconv.ParseFloat(goal[len(op):], 64)
	if err != nil {
		return "?"
	}
	ok := false
	switch op {
	case "<=":
		ok = v <= want
	case ">=":
		ok = v >= want
	case "<":
		ok = v < want
	case ">":
		ok = v > want
	case "=", "==":
		ok = v == want
	default:
		return "?"
	}
	if ok {
		return "met"
	}
	return "NOT MET"
}

func num(v float64) string {
	switch a := abs(v); {
	case a == 0 || a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func print(w io.Writer, figs []figure, failed []string) {
	fmt.Fprintf(w, "\n| figure | goal | measured | floor | ratio | |\n|---|---|---|---|---|---|\n")
	met, notMet := 0, 0
	for _, f := range figs {
		label := f.label
		if label == "" {
			label = f.name
		}
		goal := ""
		if f.goal != "" {
			goal = strings.Replace(strings.Replace(f.goal, "<=", "≤ ", 1), ">=", "≥ ", 1) + " " + f.unit
		}
		floor, ratio := "", ""
		if f.hasFloor {
			floor = num(f.floor) + " " + f.unit
			if f.flabel != "" {
				floor += " (" + f.flabel + ")"
			}
			if f.floor != 0 {
				ratio = num(f.value/f.floor) + "×"
			}
		}
		v := verdict(f.goal, f.value)
		switch v {
		case "met":
			met++
		case "NOT MET":
			notMet++
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s | %s |\n", label, goal, num(f.value), f.unit, floor, ratio, v)
	}
	for _, b := range failed {
		fmt.Fprintf(w, "| bench %s did not finish | | | | | FAILED |\n", b)
	}
	fmt.Fprintf(w, "\n%d figures: %d goals met, %d not met, %d informational; %d benches failed\n",
		len(figs), met, notMet, len(figs)-met-notMet, len(failed))
}
