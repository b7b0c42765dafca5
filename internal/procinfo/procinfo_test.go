package procinfo_test

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/shmkit/shmkit/internal/procinfo"
)

func TestSelf(t *testing.T) {
	me := procinfo.Self()
	if int(me.Pid) != os.Getpid() || me.Start == 0 || me.IsZero() {
		t.Fatalf("Self() = %+v", me)
	}
	if !procinfo.Alive(me) || !procinfo.AliveWord(me.Word()) {
		t.Fatal("this process is not alive")
	}
	if got := procinfo.FromWord(me.Word()); got.Pid != me.Pid || got.Start != me.Start&(1<<32-1) {
		t.Fatalf("FromWord(Word()) = %+v, from %+v", got, me)
	}
	st, err := procinfo.StartTime(os.Getpid())
	if err != nil || st != me.Start {
		t.Fatalf("StartTime = %d, %v; Self says %d", st, err, me.Start)
	}
	// Asking about itself reads no /proc file: goroutines that poll a lock
	// their own process holds ask it at every poll.
	if n := testing.AllocsPerRun(100, func() { procinfo.AliveWord(me.Word()) }); n != 0 {
		t.Fatalf("AliveWord(self) makes %v allocations, want 0 (a read of /proc)", n)
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
		_, state, err := procinfo.ParseStat(b)
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
	start, state, err := procinfo.ParseStat([]byte(line))
	if err != nil || start != 987654 || state != 'S' {
		t.Fatalf("ParseStat = %d %q %v, want 987654 'S'", start, state, err)
	}
	for _, bad := range []string{"", "42 no-paren S 1", "42 (x) S 1 2 3"} {
		if _, _, err := procinfo.ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}
