// Command ringreport runs the ringbuf benchmarks and writes their table into
// docs/ringbuf.md, between the markers "<!-- bench:begin -->" and
// "<!-- bench:end -->", so that anyone can re-take the figures:
//
//	go run ./internal/ringreport                  # rewrite docs/ringbuf.md
//	go run ./internal/ringreport -o -             # print the table only
//	go run ./internal/ringreport -benchtime 2s    # longer runs
//	go run ./internal/ringreport -passes 5        # more runs, steadier medians
//
// It runs the benchmarks -passes times (each pass one `go test -bench`
// run). Each ratio is taken within a pass, so that it compares transports
// measured side by side, and the table gives the median of the passes'
// ratios with their range; the absolute figures are medians across passes.
// On a shared 2-core machine single runs of the stream benchmarks are
// bimodal (a run now and then takes 1.5-3× longer), which is why one pass
// is not enough to state a ratio.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

func main() {
	out := flag.String("o", "docs/ringbuf.md", `file to rewrite between the markers, or "-" for standard output`)
	benchtime := flag.String("benchtime", "1s", "go test -benchtime for each benchmark")
	pkg := flag.String("pkg", "./ringbuf/", "package holding the benchmarks")
	bench := flag.String("bench", "^Benchmark(Stream|PingPong)$", "go test -bench pattern")
	passes := flag.Int("passes", 5, "number of go test runs; ratios are taken within each and their median reported")
	flag.Parse()
	if *passes < 1 {
		fatal(fmt.Errorf("-passes %d: want at least 1", *passes))
	}

	load := loadAverage()
	args := []string{"test", "-run", "^$", "-bench", *bench, "-benchtime", *benchtime, "-count", "1", *pkg}
	var runs []pass
	for i := 1; i <= *passes; i++ {
		fmt.Fprintf(os.Stderr, "ringreport: pass %d of %d: go %s\n", i, *passes, strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Stderr = os.Stderr
		raw, err := cmd.Output()
		os.Stderr.Write(raw)
		if err != nil {
			fatal(fmt.Errorf("go test: %w", err))
		}
		results := parse(bytes.NewReader(raw))
		if len(results) == 0 {
			fatal(fmt.Errorf("no benchmark results in the output"))
		}
		runs = append(runs, results)
	}
	table := render(runs, *benchtime, load)
	if *out == "-" {
		fmt.Print(table)
		return
	}
	doc, err := os.ReadFile(*out)
	if err != nil {
		fatal(err)
	}
	i, j := bytes.Index(doc, []byte(beginMarker)), bytes.Index(doc, []byte(endMarker))
	if i < 0 || j < i {
		fatal(fmt.Errorf("%s lacks the markers %s ... %s", *out, beginMarker, endMarker))
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(beginMarker)])
	b.WriteString("\n" + table)
	b.Write(doc[j:])
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fatal(err)
	}
	fmt.Fprintln(os.Stderr, "ringreport: wrote", *out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "ringreport:", err)
	os.Exit(1)
}

// pass is one go test run's results by benchmark name.
type pass = map[string]result

// merge returns each benchmark's metrics as medians across the passes.
func merge(runs []pass) pass {
	vals := map[string]map[string][]float64{}
	for _, run := range runs {
		for name, r := range run {
			if vals[name] == nil {
				vals[name] = map[string][]float64{}
			}
			for unit, v := range r.metrics {
				vals[name][unit] = append(vals[name][unit], v)
			}
		}
	}
	out := pass{}
	for name, units := range vals {
		r := result{name: name, metrics: map[string]float64{}}
		for unit, vs := range units {
			r.metrics[unit] = median(vs)
		}
		out[name] = r
	}
	return out
}

// floors returns each pass's range of floor-p50-ns across its benchmarks
// ("pass 1 120-150 ns, ..."), or "" where none reported it.
func floors(runs []pass) string {
	var parts []string
	for i, run := range runs {
		lo, hi := 0.0, 0.0
		for _, r := range run {
			if v, ok := r.get("floor-p50-ns"); ok {
				if lo == 0 || v < lo {
					lo = v
				}
				hi = max(hi, v)
			}
		}
		if hi > 0 {
			parts = append(parts, fmt.Sprintf("pass %d %.0f-%.0f ns", i+1, lo, hi))
		}
	}
	return strings.Join(parts, ", ")
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratios takes f's ratio within each pass and prints their median, with
// their range when there are several passes.
func ratios(runs []pass, f func(pass) (a, b float64)) string {
	var rs []float64
	for _, run := range runs {
		if a, b := f(run); a != 0 && b != 0 {
			rs = append(rs, a/b)
		}
	}
	if len(rs) == 0 {
		return "–"
	}
	m := fmt.Sprintf("%.2f×", median(rs))
	if len(rs) > 1 {
		sort.Float64s(rs)
		m += fmt.Sprintf(" (%.2f–%.2f)", rs[0], rs[len(rs)-1])
	}
	return m
}

// result is one benchmark line: its name without the GOMAXPROCS suffix and
// its metrics by unit ("ns/op", "msgs/s", "MB/s", "p50-ns", "allocs/op" …).
type result struct {
	name    string
	metrics map[string]float64
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) map[string]result {
	out := map[string]result{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		res := result{name: procSuffix.ReplaceAllString(f[0], ""), metrics: map[string]float64{}}
		for k := 2; k+1 < len(f); k += 2 {
			if v, err := strconv.ParseFloat(f[k], 64); err == nil {
				res.metrics[f[k+1]] = v
			}
		}
		out[res.name] = res
	}
	return out
}

func (r result) get(unit string) (float64, bool) {
	v, ok := r.metrics[unit]
	return v, ok
}

func render(runs []pass, benchtime string, load string) string {
	res := merge(runs)
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Taken %s on %s (%s, %d CPUs, %s), load average before the run %s; `-benchtime %s`, %d passes: figures are medians across the passes, each ratio the median of the ratios taken within each pass (their range in brackets).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cpuModel(), runtime.NumCPU(), runtime.Version(), load, benchtime, len(runs))
	if f := floors(runs); f != "" {
		fmt.Fprintf(&b, "The shared-memory floor (`floor-p50-ns`, a round trip between two threads spinning on each other's cache line, taken before each benchmark that reports it) by pass, least and most: %s. Figures move with it: read them beside it.\n\n", f)
	}

	// Throughput.
	sizes := map[int]bool{}
	for name := range res {
		if s, _, ok := streamName(name); ok {
			sizes[s] = true
		}
	}
	var sz []int
	for s := range sizes {
		sz = append(sz, s)
	}
	sort.Ints(sz)
	cols := []string{"ring-copy", "ring-reserve", "ring-batch", "mpsc-reserve", "mpmc", "unix", "unix-bufio", "pipe", "pipe-bufio", "chan"}
	b.WriteString("### Throughput, producer and consumer in two processes (msgs/s, MB/s)\n\n")
	b.WriteString("| size | " + strings.Join(cols, " | ") + " | reserve ÷ unix-bufio | batch ÷ unix-bufio | copy ÷ unix-bufio | ring allocs/op |\n")
	b.WriteString("|---:|" + strings.Repeat("---:|", len(cols)+4) + "\n")
	for _, s := range sz {
		fmt.Fprintf(&b, "| %s |", sizeName(s))
		for _, c := range cols {
			r, ok := res[fmt.Sprintf("BenchmarkStream/size=%d/%s", s, c)]
			m, ok2 := r.get("msgs/s")
			mb, _ := r.get("MB/s")
			if !ok || !ok2 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %s<br>%s MB/s |", human(m), human(mb))
		}
		for _, c := range []string{"ring-reserve", "ring-batch", "ring-copy"} {
			fmt.Fprintf(&b, " %s |", ratios(runs, func(run pass) (float64, float64) { return rate(run, s, c), rate(run, s, "unix-bufio") }))
		}
		allocs := 0.0
		for _, c := range []string{"ring-copy", "ring-reserve", "ring-batch", "mpsc-reserve", "mpmc"} {
			if a, ok := res[fmt.Sprintf("BenchmarkStream/size=%d/%s", s, c)].get("allocs/op"); ok && a > allocs {
				allocs = a
			}
		}
		fmt.Fprintf(&b, " %g |\n", allocs)
	}

	// Latency.
	b.WriteString("\n### Ping-pong round trip of 64 bytes between two processes (ns)\n\n")
	b.WriteString("| transport | p50 | p99 | p99.9 | allocs/op |\n|---|---:|---:|---:|---:|\n")
	rows := []string{"ring-spin", "ring-park", "floor-shm-spin", "floor-futex", "unix", "pipe", "chan"}
	for _, row := range rows {
		r, ok := res["BenchmarkPingPong/"+row]
		if !ok {
			continue
		}
		p50, _ := r.get("p50-ns")
		p99, _ := r.get("p99-ns")
		p999, _ := r.get("p999-ns")
		al, _ := r.get("allocs/op")
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %g |\n", row, human(p50), human(p99), human(p999), al)
	}
	p50 := func(x, y string) string {
		return ratios(runs, func(run pass) (float64, float64) {
			a, _ := run["BenchmarkPingPong/"+x].get("p50-ns")
			b, _ := run["BenchmarkPingPong/"+y].get("p50-ns")
			return a, b
		})
	}
	b.WriteString("\nRatios of p50 (aims: spin ≤ 2× the shared-memory floor; park ≤ 1.5× the futex floor and ≤ 0.5× the unix socket):\n\n")
	fmt.Fprintf(&b, "- ring-spin ÷ floor-shm-spin: %s\n", p50("ring-spin", "floor-shm-spin"))
	fmt.Fprintf(&b, "- ring-park ÷ floor-futex: %s\n", p50("ring-park", "floor-futex"))
	fmt.Fprintf(&b, "- ring-park ÷ unix: %s\n", p50("ring-park", "unix"))
	b.WriteString("\n")
	return b.String()
}

func streamName(name string) (size int, col string, ok bool) {
	rest, found := strings.CutPrefix(name, "BenchmarkStream/size=")
	if !found {
		return 0, "", false
	}
	s, c, found := strings.Cut(rest, "/")
	n, err := strconv.Atoi(s)
	return n, c, found && err == nil
}

func rate(res map[string]result, size int, col string) float64 {
	v, _ := res[fmt.Sprintf("BenchmarkStream/size=%d/%s", size, col)].get("msgs/s")
	return v
}

func sizeName(s int) string {
	switch {
	case s >= 1<<20 && s%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", s>>20)
	case s >= 1<<10 && s%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", s>>10)
	}
	return fmt.Sprintf("%d B", s)
}

// human prints v with three significant figures and a k/M/G suffix.
func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
