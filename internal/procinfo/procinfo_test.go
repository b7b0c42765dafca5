package procinfo_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/procinfo"
)

func TestSelf(t *testing.T) {
	me := procinfo.Self()
	if int(me.Pid) != os.Getpid() || me.Start == 0 || me.IsZero() || me.NS == 0 {
		t.Fatalf("Self() = %+v", me)
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil || ns != "pid:["+strconv.FormatUint(me.NS, 10)+"]" {
		t.Fatalf("Self().NS = %d, /proc/self/ns/pid is %q (%v)", me.NS, ns, err)
	}
	if !procinfo.Alive(me) || !procinfo.AliveWord(me.Word()) {
		t.Fatal("this process is not alive")
	}
	if got := procinfo.FromWord(me.Word()); got.Pid != me.Pid || got.Start != me.Start&(1<<28-1) || got.NS != me.NS {
		t.Fatalf("FromWord(Word()) = %+v, from %+v", got, me)
	}
	st, err := procinfo.StartTime(os.Getpid())
	if err != nil || st != me.Start {
		t.Fatalf("StartTime = %d, %v; Self says %d", st, err, me.Start)
	}
	if got, err := procinfo.Namespace(os.Getpid()); err != nil || got != me.NS {
		t.Fatalf("Namespace(getpid) = %d, %v; Self says %d", got, err, me.NS)
	}
	// Asking about itself reads no /proc file: goroutines that poll a lock
	// their own process holds ask it at every poll.
	if n := testing.AllocsPerRun(100, func() { procinfo.AliveWord(me.Word()) }); n != 0 {
		t.Fatalf("AliveWord(self) makes %v allocations, want 0 (a read of /proc)", n)
	}
}

// TestWordLayout checks the packed word against the diagram in doc.go.
func TestWordLayout(t *testing.T) {
	id := procinfo.Ident{Pid: 1<<22 - 1, Start: 1<<40 | 0xABCDEF1, NS: procinfo.InitNS + 5}
	w := id.Word()
	if want := uint64(1<<22-1)<<41 | 5<<28 | 0xABCDEF1; w != want {
		t.Fatalf("Word() = %#x, want %#x", w, want)
	}
	if w>>63 != 0 || procinfo.IsHandoff(w) {
		t.Fatal("Word sets the hand-off flag")
	}
	h := procinfo.HandoffWord(w)
	if h != w|1<<63 || !procinfo.IsHandoff(h) {
		t.Fatalf("HandoffWord(%#x) = %#x", w, h)
	}
	if procinfo.FromWord(h) != procinfo.FromWord(w) {
		t.Fatalf("FromWord sees the hand-off flag: %+v, %+v", procinfo.FromWord(h), procinfo.FromWord(w))
	}
	if got := procinfo.FromWord(w); got.Pid != id.Pid || got.Start != 0xABCDEF1 || procinfo.NSTag(got.NS) != 5 {
		t.Fatalf("FromWord(%#x) = %+v", w, got)
	}
	if w0 := (procinfo.Ident{}).Word(); w0 != 0 {
		t.Fatal("the zero Ident packs to a nonzero word")
	}
	for _, c := range []struct {
		ns  uint64
		tag uint32
	}{{procinfo.InitNS, 0}, {0xF0000000, 4}, {0xF0000000 + 8191 - 4, 8191}, {0xF0000000 + 8192 - 4, 0}, {0, 0}} {
		if got := procinfo.NSTag(c.ns); got != c.tag {
			t.Errorf("NSTag(%#x) = %d, want %d", c.ns, got, c.tag)
		}
	}
}

// TestHandoffAlive: the hand-off flag changes nothing about liveness.
func TestHandoffAlive(t *testing.T) {
	me := procinfo.Self()
	if !procinfo.AliveWord(procinfo.HandoffWord(me.Word())) {
		t.Fatal("a live word with the hand-off flag counts as dead")
	}
	if procinfo.AliveWord(procinfo.HandoffWord(0)) {
		t.Fatal("the zero word with the hand-off flag counts as alive")
	}
	reused := me
	reused.Start++
	if procinfo.AliveWord(procinfo.HandoffWord(reused.Word())) {
		t.Fatal("a dead word with the hand-off flag counts as alive")
	}
}

// TestOtherNamespaceAlive: a process of another PID namespace is never
// judged dead, whatever its PID names here.
func TestOtherNamespaceAlive(t *testing.T) {
	me := procinfo.Self()
	other := procinfo.Ident{Pid: me.Pid, Start: me.Start + 1, NS: me.NS + 1} // dead, if it were ours
	if !procinfo.Alive(other) {
		t.Fatal("Alive judged a process of another namespace dead")
	}
	if !procinfo.AliveWord(other.Word()) {
		t.Fatal("AliveWord judged a word of another namespace dead")
	}
	if got := procinfo.FromWord(other.Word()); procinfo.SameNamespace(got) || got.Pid != me.Pid {
		t.Fatalf("FromWord of another namespace's word = %+v, same namespace", got)
	}
	if s := other.String(); !strings.Contains(s, "namespace") {
		t.Fatalf("String of another namespace's Ident = %q, says nothing of it", s)
	}
	if s := me.String(); s != "pid "+strconv.Itoa(int(me.Pid)) {
		t.Fatalf("String of Self = %q", s)
	}
	same := other
	same.NS = me.NS
	if procinfo.Alive(same) || procinfo.AliveWord(same.Word()) {
		t.Fatal("the same Ident in the caller's namespace counts as alive")
	}
}

func TestNotAlive(t *testing.T) {
	me := procinfo.Self()
	reused := me
	reused.Start++ // the same PID, another process: PID reuse
	if procinfo.Alive(reused) || procinfo.AliveWord(reused.Word()) {
		t.Fatal("a PID with another start time counts as alive")
	}
	if procinfo.Alive(procinfo.Ident{}) || procinfo.AliveWord(0) {
		t.Fatal("the zero Ident is alive")
	}
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	gone := procinfo.Ident{Pid: int32(cmd.Process.Pid)}
	if procinfo.Alive(gone) {
		t.Fatalf("reaped child %d is alive", gone.Pid)
	}
	if _, err := procinfo.StartTime(cmd.Process.Pid); err != procinfo.ErrNoProcess {
		t.Fatalf("StartTime of a reaped child = %v, want ErrNoProcess", err)
	}
}

// TestSelfInNamespace: in a new PID namespace Self names the process as its
// /proc knows it, with the new namespace.
func TestSelfInNamespace(t *testing.T) {
	if _, ok := os.LookupEnv("PROCINFO_NS_CHILD"); ok {
		me := procinfo.Self()
		// One line for the parent: PID, namespace, alive.
		os.Stdout.WriteString("SELF " + strconv.Itoa(int(me.Pid)) + " " + strconv.FormatUint(me.NS, 10) + " " + strconv.FormatBool(procinfo.Alive(me)) + "\n")
		return
	}
	if out, err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a PID namespace here (unshare --pid --fork --mount-proc: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	for _, mountProc := range []bool{true, false} {
		args := []string{"--pid", "--fork"}
		if mountProc {
			args = append(args, "--mount-proc")
		}
		cmd := exec.Command("unshare", append(args, os.Args[0], "-test.run=^TestSelfInNamespace$", "-test.count=1")...)
		cmd.Env = append(os.Environ(), "PROCINFO_NS_CHILD=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child (--mount-proc %v): %v\n%s", mountProc, err, out)
		}
		var pid int
		var ns uint64
		var alive bool
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[0] == "SELF" {
				pid, _ = strconv.Atoi(f[1])
				ns, _ = strconv.ParseUint(f[2], 10, 64)
				alive, _ = strconv.ParseBool(f[3])
			}
		}
		if ns == 0 || ns == procinfo.Self().NS || !alive {
			t.Errorf("child (--mount-proc %v): Self pid %d ns %d alive %v; parent's ns %d\n%s", mountProc, pid, ns, alive, procinfo.Self().NS, out)
		}
		if mountProc && pid != 1 {
			t.Errorf("child with its own /proc: Self pid %d, want 1", pid)
		}
		if !mountProc && pid == 1 {
			t.Errorf("child with the host's /proc: Self pid 1, the namespace-local getpid, not its PID in that /proc")
		}
	}
}

func TestZombieIsDead(t *testing.T) {
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	// Until Wait, the exited child is a zombie: its stat reads state Z.
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		_, _, state, err := procinfo.ParseStat(b)
		if err != nil {
			t.Fatal(err)
		}
		if state == 'Z' {
			break
		}
	}
	if procinfo.Alive(procinfo.Ident{Pid: int32(pid)}) {
		t.Fatal("a zombie counts as alive")
	}
}

func TestParseStat(t *testing.T) {
	// comm may hold spaces and parentheses; fields are counted after the last ')'.
	line := "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10\n"
	pid, start, state, err := procinfo.ParseStat([]byte(line))
	if err != nil || pid != 42 || start != 987654 || state != 'S' {
		t.Fatalf("ParseStat = %d %d %q %v, want 42 987654 'S'", pid, start, state, err)
	}
	for _, bad := range []string{"", "42 no-paren S 1", "42 (x) S 1 2 3", "x (a) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10"} {
		if _, _, _, err := procinfo.ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}

// TestTimeNamespace: /proc/PID/stat gives a start time shifted by the
// reader's time namespace boot-time offset (Linux 5.6+). A process of a
// time namespace with such an offset, in the caller's PID namespace, must
// still be judged alive by processes outside it, and must judge them alive.
func TestTimeNamespace(t *testing.T) {
	if w, ok := os.LookupEnv("PROCINFO_TIMENS_CHILD"); ok {
		peer, _ := strconv.ParseUint(w, 10, 64)
		me := procinfo.Self()
		// One line for the parent: its word, then whether the parent is alive here.
		os.Stdout.WriteString("SELF " + strconv.FormatUint(me.Word(), 10) + " " + strconv.Itoa(int(me.Pid)) + " " +
			strconv.FormatUint(me.Start, 10) + " " + strconv.FormatBool(procinfo.AliveWord(peer)) + "\n")
		io.Copy(io.Discard, os.Stdin) // alive until the parent is done
		return
	}
	if out, err := exec.Command("unshare", "--time", "--boottime", "100000", "--fork", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a time namespace here (unshare --time: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	me := procinfo.Self()
	cmd := exec.Command("unshare", "--time", "--boottime", "100000", "--fork",
		os.Args[0], "-test.run=^TestTimeNamespace$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PROCINFO_TIMENS_CHILD="+strconv.FormatUint(me.Word(), 10))
	sc, stop := startPiped(t, cmd)
	defer stop()
	var line string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "SELF ") {
			line = sc.Text()
			break
		}
	}
	f := strings.Fields(line)
	if len(f) != 5 {
		t.Fatalf("child said %q", line)
	}
	word, _ := strconv.ParseUint(f[1], 10, 64)
	pid, _ := strconv.Atoi(f[2])
	start, _ := strconv.ParseUint(f[3], 10, 64)
	child := procinfo.Ident{Pid: int32(pid), Start: start, NS: me.NS}
	if !procinfo.Alive(child) || !procinfo.AliveWord(word) {
		st, _ := procinfo.StartTime(pid)
		t.Errorf("a live child in a time namespace counts as dead: it recorded start %d, its stat here says %d", start, st)
	}
	if f[4] != "true" {
		t.Errorf("the child in a time namespace judges its live parent dead")
	}
	reused := child
	reused.Start += 2
	if procinfo.Alive(reused) || procinfo.AliveWord(reused.Word()) {
		t.Errorf("another start time at the child's PID counts as alive")
	}
}

// TestHidePid: with /proc mounted hidepid=2 (invisible), another user's
// process has no /proc entry at all. A process that cannot see its peer
// must not judge it dead; one that is gone must still count as dead.
func TestHidePid(t *testing.T) {
	if env, ok := os.LookupEnv("PROCINFO_HIDEPID_CHILD"); ok {
		var peer, gone uint64
		fmt.Sscan(env, &peer, &gone)
		// Private mounts first, so that the new /proc stays in this
		// mount namespace; then become a user that cannot see root's.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fmt.Println("SKIP", err)
			return
		}
		if err := unix.Mount("proc", "/proc", "proc", 0, "hidepid=2"); err != nil {
			fmt.Println("SKIP", err)
			return
		}
		if err := syscall.Setgid(65534); err != nil {
			fmt.Println("SKIP", err)
			return
		}
		if err := syscall.Setuid(65534); err != nil {
			fmt.Println("SKIP", err)
			return
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(int(procinfo.FromWord(peer).Pid))); err == nil {
			fmt.Println("SKIP the peer is not hidden")
			return
		}
		fmt.Println("RESULT", procinfo.AliveWord(peer), procinfo.Alive(procinfo.FromWord(peer)), procinfo.AliveWord(gone))
		return
	}
	me := procinfo.Self()
	if me.Pid != int32(os.Getpid()) || os.Geteuid() != 0 {
		t.Skip("needs root, and a /proc of this PID namespace")
	}
	reaped := exec.Command("/bin/true")
	if err := reaped.Run(); err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	gone := procinfo.Ident{Pid: int32(reaped.Process.Pid), Start: 1}.Word()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHidePid$", "-test.count=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	cmd.Env = append(os.Environ(), fmt.Sprintf("PROCINFO_HIDEPID_CHILD=%d %d", me.Word(), gone))
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("operation not permitted")) || len(out) == 0 {
			t.Skipf("cannot make a mount namespace here: %v %s", err, out)
		}
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 0 && f[0] == "SKIP":
			t.Skip(line)
		case len(f) == 4 && f[0] == "RESULT":
			if f[1] != "true" || f[2] != "true" {
				t.Errorf("a live process hidden by hidepid=2 counts as dead (AliveWord %s, Alive %s)", f[1], f[2])
			}
			if f[3] != "false" {
				t.Errorf("a reaped process counts as alive under hidepid=2")
			}
			return
		}
	}
	t.Fatalf("child said nothing:\n%s", out)
}

// leaderChild marks a copy of the test binary that ends its main thread
// while its other threads go on (TestLeaderExited).
const leaderChild = "PROCINFO_LEADER_CHILD"

func init() {
	if os.Getenv(leaderChild) != "" {
		runtime.LockOSThread() // keep the main goroutine on the main thread, which it will end
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(leaderChild) != "" {
		go func() {
			// The main thread has gone when /proc/self/stat, the thread
			// group leader's, reads state Z.
			for {
				b, err := os.ReadFile("/proc/self/stat")
				if err != nil {
					os.Exit(3)
				}
				if _, _, state, err := procinfo.ParseStat(b); err == nil && state == 'Z' {
					fmt.Println("READY", os.Getpid(), procinfo.Self().Start)
					break
				}
				runtime.Gosched()
			}
			io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
		// exit(2), not exit_group: only the main thread ends. In a
		// syscall for ever as far as the runtime knows, so its P is
		// taken back and the other threads go on.
		unix.Syscall(unix.SYS_EXIT, 0, 0, 0)
	}
	os.Exit(m.Run())
}

// TestLeaderExited: a process whose main thread has exited while its other
// threads run shows state Z in /proc/PID/stat (the thread group leader
// stays a zombie until the last thread ends). It is alive.
func TestLeaderExited(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), leaderChild+"=1")
	sc, stop := startPiped(t, cmd)
	defer stop()
	var pid int
	var start uint64
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "READY %d %d", &pid, &start); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatal("the child never saw its main thread end")
	}
	me := procinfo.Self()
	id := procinfo.Ident{Pid: int32(pid), Start: start, NS: me.NS}
	if !procinfo.Alive(id) || !procinfo.AliveWord(id.Word()) {
		t.Fatal("a process whose main thread exited, its other threads running, counts as dead")
	}
	if err := stop(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if procinfo.Alive(id) {
		t.Fatal("the reaped child counts as alive")
	}
}

// startPiped starts cmd, a child that reports on its stdout and lives
// until its stdin closes: sc reads its lines, and stop closes its stdin
// and waits for it (the first call does; each returns its error).
func startPiped(t *testing.T, cmd *exec.Cmd) (sc *bufio.Scanner, stop func() error) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var werr error
	return bufio.NewScanner(stdout), func() error {
		once.Do(func() { stdin.Close(); werr = cmd.Wait() })
		return werr
	}
}
