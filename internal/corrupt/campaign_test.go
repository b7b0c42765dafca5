package corrupt_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

const (
	countEnv = "SHMKIT_CORRUPT" // trials of a full campaign
	childEnv = "SHMKIT_CORRUPT_CHILD"
	ownerEnv = "SHMKIT_CORRUPT_OWNER" // PID whose segment names the child uses

	defaultTrials = 1000
	shortTrials   = 300
	childTrials   = 400 // trials per child before a fresh one (its mappings stay until it exits)

	opTimeout = 20 * time.Millisecond // the context of an operation that waits
	watchdog  = 10 * time.Second      // a child that does not answer in this time hangs
	segSize   = 64 << 10
	dirCap    = 4
)

// write is one corrupting write: bytes at an offset from the segment start.
type write struct {
	Off   int64  `json:"off"`
	Bytes string `json:"bytes"` // hex
}

// trial is what a child says before it runs a trial, so that the parent
// can report it if the child dies or hangs.
type trial struct {
	N      int     `json:"n"`
	Kind   string  `json:"kind"`
	Phase  string  `json:"phase"` // "before" or "after" the second handle attaches
	Writes []write `json:"writes"`
	Op     string  `json:"op"`
}

// result is what a child says after a trial.
type result struct {
	N       int    `json:"n"`
	Outcome string `json:"outcome"` // "error", "ok" or "wrong"
	Detail  string `json:"detail,omitempty"`
}

func (t trial) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trial %d: kind %s, corrupted %s attach, op %s, writes", t.N, t.Kind, t.Phase, t.Op)
	for _, w := range t.Writes {
		fmt.Fprintf(&b, " [off %d bytes %s]", w.Off, w.Bytes)
	}
	return b.String()
}

func segName(owner, n int) string { return fmt.Sprintf("shmkit-test-%d-corrupt-%d", owner, n) }

// TestCorruptionCampaign runs the campaign: trials in child processes,
// many to a child, a fresh child after one dies or hangs.
// defaultSeed is the campaign a plain go test runs.
const defaultSeed = 1796458778204589170

func TestCorruptionCampaign(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		childLoop()
		return
	}
	trials := defaultTrials
	if testing.Short() {
		trials = shortTrials
	}
	if v := os.Getenv(countEnv); v != "" && v != "0" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a number of trials", countEnv, v)
		}
		trials = n
	}
	// A plain go test (and CI) replays one fixed campaign, so that it
	// passes or fails the same way every time; a campaign asked for with
	// SHMKIT_CORRUPT draws a fresh seed, to explore.
	seed := uint64(defaultSeed)
	if os.Getenv(countEnv) != "" {
		seed = uint64(time.Now().UnixNano())
	}
	if v := os.Getenv("SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("SEED=%d %s=%d", seed, countEnv, trials)

	counts, perKind := map[string]int{}, map[string]int{}
	var faults []string
	var c *child
	defer func() {
		if c != nil {
			c.stop()
		}
	}()
	for n := 0; n < trials; n++ {
		if c != nil && c.done >= childTrials {
			c.stop()
			c = nil
		}
		if c == nil {
			var err error
			if c, err = startChild(seed); err != nil {
				t.Fatal(err)
			}
		}
		outcome, detail := c.run(n)
		counts[outcome]++
		perKind[c.last.Kind+" "+outcome]++
		switch outcome {
		case "error", "ok":
		default:
			faults = append(faults, fmt.Sprintf("%s: %s\n%s", outcome, c.last, detail))
		}
		if outcome == "panic" || outcome == "crash" || outcome == "hang" {
			shm.Unlink(segName(os.Getpid(), n)) // the child could not
			c = nil
		}
	}
	t.Logf("%d trials: %d clean errors, %d successes, %d panics, %d crashes, %d hangs, %d wrong data",
		trials, counts["error"], counts["ok"], counts["panic"], counts["crash"], counts["hang"], counts["wrong"])
	for _, k := range kinds {
		t.Logf("  %-10s %4d errors %4d successes %d faults", k.name, perKind[k.name+" error"], perKind[k.name+" ok"],
			perKind[k.name+" panic"]+perKind[k.name+" crash"]+perKind[k.name+" hang"]+perKind[k.name+" wrong"])
	}
	for _, f := range faults {
		t.Errorf("SEED=%d %s", seed, f)
	}
}

// child is a running child process and the lines it writes.
type child struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	stderr *tailBuffer
	done   int
	last   trial
}

func startChild(seed uint64) (*child, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCorruptionCampaign$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "SEED="+strconv.FormatUint(seed, 10), ownerEnv+"="+strconv.Itoa(os.Getpid()))
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, lines: make(chan string, 16), stderr: &tailBuffer{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c, nil
}

// run has the child run trial n and returns its outcome: "error", "ok",
// "wrong", "panic", "crash" or "hang", and what the parent knows of it.
func (c *child) run(n int) (outcome, detail string) {
	c.last = trial{N: n, Kind: "(not yet chosen)"}
	if _, err := fmt.Fprintf(c.in, "%d\n", n); err != nil {
		return c.died()
	}
	timer := time.NewTimer(watchdog)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return c.died()
			}
			switch {
			case strings.HasPrefix(line, "begin "):
				json.Unmarshal([]byte(line[len("begin "):]), &c.last)
			case strings.HasPrefix(line, "end "):
				var r result
				if err := json.Unmarshal([]byte(line[len("end "):]), &r); err != nil || r.N != n {
					return "crash", fmt.Sprintf("child answered %q", line)
				}
				c.done++
				return r.Outcome, r.Detail
			}
		case <-timer.C:
			c.cmd.Process.Kill()
			c.cmd.Wait()
			return "hang", fmt.Sprintf("no answer in %v; killed with SIGKILL; stderr:\n%s", watchdog, c.stderr.String())
		}
	}
}

// died classifies the exit of a child that stopped answering.
func (c *child) died() (string, string) {
	for range c.lines {
	}
	err := c.cmd.Wait()
	tail := c.stderr.String()
	outcome := "crash"
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled():
	case strings.Contains(tail, "fatal error:") || strings.Contains(tail, "[signal "):
	case strings.Contains(tail, "panic:"):
		outcome = "panic"
	}
	return outcome, fmt.Sprintf("exit: %v; stderr:\n%s", err, tail)
}

func (c *child) stop() {
	c.in.Close()
	for range c.lines {
	}
	c.cmd.Wait()
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// childLoop runs the trials whose numbers arrive on stdin.
func childLoop() {
	seed, _ := strconv.ParseUint(os.Getenv("SEED"), 10, 64)
	owner, _ := strconv.Atoi(os.Getenv(ownerEnv))
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad trial number %q\n", sc.Text())
			os.Exit(3)
		}
		r := runTrial(seed, owner, n)
		b, _ := json.Marshal(r)
		fmt.Printf("end %s\n", b)
	}
}

// runTrial builds trial n of the campaign seeded with seed, says what it
// is, and runs it.
func runTrial(seed uint64, owner, n int) result {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	k := kinds[n%len(kinds)]
	name := segName(owner, n)
	seg, err := shm.Create(name, segSize, shm.WithDirCap(dirCap))
	if err != nil {
		return result{N: n, Outcome: "error", Detail: "setup: " + err.Error()}
	}
	// The segment stays mapped until the child exits: a sleeper a timed
	// out wait left behind may still touch it.
	defer seg.Unlink()
	if err := k.create(seg); err != nil {
		return result{N: n, Outcome: "wrong", Detail: "create of a clean object: " + err.Error()}
	}
	tr := trial{N: n, Kind: k.name, Phase: "after"}
	if rng.IntN(2) == 0 {
		tr.Phase = "before"
	}
	ops := opNames(k)
	opi := (n / len(kinds)) % len(ops)
	if rng.IntN(4) == 0 {
		opi = rng.IntN(len(ops))
	}
	tr.Op = ops[opi]
	tr.Writes = chooseWrites(rng, seg, k.name == "segment")

	var handle []op
	attach := func() error {
		seg2, err := shm.Open(name)
		if err != nil {
			return err
		}
		handle, err = k.open(seg, seg2)
		return err
	}
	if tr.Phase == "after" {
		if err := attach(); err != nil {
			return result{N: n, Outcome: "wrong", Detail: "attach to a clean object: " + err.Error()}
		}
	}
	b, _ := json.Marshal(tr)
	fmt.Printf("begin %s\n", b)
	if err := apply(name, tr.Writes); err != nil {
		return result{N: n, Outcome: "wrong", Detail: "corrupting write: " + err.Error()}
	}
	if tr.Phase == "before" {
		if err := attach(); err != nil {
			return result{N: n, Outcome: "error", Detail: "attach: " + err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	wrong, err := handle[opi].run(ctx)
	switch {
	case wrong != "":
		return result{N: n, Outcome: "wrong", Detail: wrong}
	case err != nil:
		return result{N: n, Outcome: "error", Detail: err.Error()}
	}
	return result{N: n, Outcome: "ok"}
}

// opNames returns the names of k's operations, from a clean object.
func opNames(k kind) []string {
	if names, ok := opNameCache[k.name]; ok {
		return names
	}
	seg, err := shm.CreateAnon(segSize, shm.WithDirCap(dirCap))
	if err != nil {
		panic(err)
	}
	if err := k.create(seg); err != nil {
		panic(fmt.Sprintf("%s: %v", k.name, err))
	}
	ops, err := k.open(seg, seg)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", k.name, err))
	}
	var names []string
	for _, o := range ops {
		names = append(names, o.name)
	}
	opNameCache[k.name] = names
	return names
}

var opNameCache = map[string][]string{}

// chooseWrites picks one to three writes: into the segment's header and
// directory, or into an object: half of them into its first lines (the
// object header and the control words), half anywhere in it.
func chooseWrites(rng *rand.Rand, seg *shm.Segment, headerOnly bool) []write {
	objs := seg.Objects()
	hdrEnd := int64(128 + dirCap*128)
	var ws []write
	for range 1 + rng.IntN(3) {
		n := int64(1 + rng.IntN(8))
		var off int64
		if headerOnly || rng.IntN(6) == 0 || len(objs) == 0 {
			off = rng.Int64N(hdrEnd - n + 1)
		} else {
			o := objs[rng.IntN(len(objs))]
			span := o.Size
			if rng.IntN(2) == 0 {
				span = min(span, 8*shm.CacheLine)
			}
			off = o.Offset + rng.Int64N(span-n+1)
		}
		if rng.IntN(2) == 0 {
			off &^= 3 // land on a word now and then
		}
		ws = append(ws, write{Off: off, Bytes: hex.EncodeToString(chooseBytes(rng, int(n)))})
	}
	return ws
}

// chooseBytes returns n bytes: random, or a value that lock words, counts
// and indices treat specially.
func chooseBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, 8)
	switch rng.IntN(4) {
	case 0, 1:
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	case 2:
		fill := []byte{0x00, 0xff, 0x7f, 0x80, 0x01}[rng.IntN(5)]
		for i := range b {
			b[i] = fill
		}
	default:
		special := []uint64{1, 2, uint64(os.Getpid()), 1<<30 - 1, 1 << 30, 1 << 31, 1<<31 | 1, 1<<32 - 1, 1 << 63, 1<<63 - 1, 1 << 20, 64, 63, 65}
		binary.LittleEndian.PutUint64(b, special[rng.IntN(len(special))])
	}
	return b[:n]
}

// apply makes the writes through the segment's file, as a peer with
// another mapping would.
func apply(name string, ws []write) error {
	f, err := os.OpenFile(shm.DefaultDir+"/"+name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, w := range ws {
		b, _ := hex.DecodeString(w.Bytes)
		if _, err := f.WriteAt(b, w.Off); err != nil {
			return err
		}
	}
	return nil
}

// op is one operation of a kind on an attached handle. It returns a
// description of a broken contract ("wrong data"), or the error the
// operation returned.
type op struct {
	name string
	run  func(ctx context.Context) (wrong string, err error)
}

// kind is one object kind: create builds it in seg; open attaches to it
// through seg2 (another mapping of the same segment) and returns its
// operations.
type kind struct {
	name   string
	create func(seg *shm.Segment) error
	open   func(seg, seg2 *shm.Segment) ([]op, error)
}

var _ = bytes.Equal
