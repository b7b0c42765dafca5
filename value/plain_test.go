package value_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmkit/shmkit/internal/cell"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/value"
)

// plainHold makes a Value[int64] holding 0 and installs a
// cell.TestHookPlain that holds the first goroutine to reach stage until
// release is closed (it reports arrival on at), and reports each
// announcer that waits for a window on waiting, and each that has waited
// past its spin on polling. It skips the test where
// this process cannot register for membarrier: Update then never stores
// plainly.
func plainHold(t *testing.T, stage int) (v *value.Value[int64], at, waiting, polling, release chan struct{}) {
	t.Helper()
	v, err := value.New[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if !membarrier.Await() {
		t.Skip("membarrier's global expedited command is unavailable: Update always stores with a CAS")
	}
	at, waiting, polling, release = make(chan struct{}), make(chan struct{}, 16), make(chan struct{}, 16), make(chan struct{})
	var once sync.Once
	cell.TestHookPlain = func(s int) {
		switch s {
		case stage:
			once.Do(func() {
				close(at)
				<-release
			})
		case cell.PlainWaiting:
			waiting <- struct{}{}
		case cell.PlainPolling:
			polling <- struct{}{}
		}
	}
	t.Cleanup(func() { cell.TestHookPlain = nil })
	return v, at, waiting, polling, release
}

// TestAddWaitsForPlainStore: an Add whose handle announces itself while
// an Update is inside its plain store's window (the data not yet stored)
// waits for the window to close, so that the Update's store does not
// overwrite the Add. Without the wait the value ends at 1.
func TestAddWaitsForPlainStore(t *testing.T) {
	v, at, waiting, _, release := plainHold(t, cell.PlainOpen)
	updated := make(chan int64)
	go func() { updated <- v.Update(func(x *int64) { *x++ }) }()
	<-at
	added := make(chan int64)
	go func() { added <- value.Add(v, 100) }()
	select {
	case <-waiting:
	case got := <-added:
		close(release)
		<-updated
		t.Fatalf("Add returned %d while an Update was inside its plain store: it did not wait (value now %d)", got, v.Load())
	}
	close(release)
	if got := <-updated; got != 1 {
		t.Errorf("Update returned %d, want 1", got)
	}
	if got := <-added; got != 101 {
		t.Errorf("Add returned %d, want 101", got)
	}
	if got := v.Load(); got != 101 {
		t.Fatalf("value %d after Update(+1) and Add(100), want 101", got)
	}
}

// TestPlainStoreSeesAnnouncement: an Update that found no lock-free
// writer, and then stalled before it opened its window while an Add
// announced itself and added, finds the announcement inside its window
// and stores with a CAS, which fails on the Add's value and runs fn again.
// Storing plainly, it would leave 1.
func TestPlainStoreSeesAnnouncement(t *testing.T) {
	v, at, _, _, release := plainHold(t, cell.PlainChecked)
	updated := make(chan int64)
	calls := 0
	go func() { updated <- v.Update(func(x *int64) { calls++; *x++ }) }()
	<-at
	if got := value.Add(v, 100); got != 100 {
		t.Errorf("Add returned %d, want 100", got)
	}
	close(release)
	if got := <-updated; got != 101 {
		t.Errorf("Update returned %d, want 101", got)
	}
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2 (once more after the Add)", calls)
	}
	if got := v.Load(); got != 101 {
		t.Fatalf("value %d after Update(+1) and Add(100), want 101", got)
	}
	if got := v.Update(func(x *int64) { *x++ }); got != 102 {
		t.Fatalf("a later Update returned %d, want 102", got)
	}
}

type mixArgs struct {
	Counter *value.Value[int64]
	Ready   *value.Value[uint32]
	N       int
}

// newMixArgs makes a counter and a ready count in a segment of their own.
func newMixArgs(t *testing.T, n int) mixArgs {
	seg := shmtest.Segment(t, 1<<16)
	c, err := value.Create[int64](seg, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	ready, err := value.Create[uint32](seg, "ready", 0)
	if err != nil {
		t.Fatal(err)
	}
	return mixArgs{Counter: c, Ready: ready, N: n}
}

var plainUpdater = process.Register("value-plain-updater", func(ctx context.Context, a mixArgs) error {
	membarrier.Await() // store plainly from the first Update, where the kernel lets it
	value.Add(a.Ready, 1)
	for range a.N {
		a.Counter.Update(func(x *int64) { *x++ })
	}
	return nil
})

// TestUpdateThenAddAcrossProcesses: two processes Update one counter
// (plainly, once registered), and this process starts adding to it
// while they run, so that its announcement meets their windows in
// another process. No increment is lost.
func TestUpdateThenAddAcrossProcesses(t *testing.T) {
	n := shmtest.Iterations(t, 300_000)
	a := newMixArgs(t, n)
	c, ready := a.Counter, a.Ready
	var ps []*process.Process
	for range 2 {
		p, err := plainUpdater.Start(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := awaitAtLeast(ready, 2); err != nil {
		t.Fatal(err)
	}
	for c.Load() < int64(n/4) && ps[0].Alive() && ps[1].Alive() { // the updaters well under way
		runtime.Gosched()
	}
	for range n {
		value.Add(c, 1)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Load(); got != int64(3*n) {
		t.Fatalf("counter %d after %d Updates and %d Adds: %d lost", got, 2*n, n, int64(3*n)-got)
	}
}

var plainDier = process.Register("value-plain-dier", func(ctx context.Context, a mixArgs) error {
	if !membarrier.Await() {
		return errors.New("membarrier unavailable in the child")
	}
	cell.TestHookPlain = func(s int) {
		if s == cell.PlainOpen {
			a.Ready.Store(1)
			time.Sleep(time.Hour) // killed here, inside the window, holding the lock
		}
	}
	a.Counter.Update(func(x *int64) { *x++ })
	return errors.New("the Update returned: the hook did not hold it")
})

// TestAddAfterUpdaterDiesInWindow: a process killed inside its plain
// store's window leaves seq odd and the lock held. A first Add, which
// waits for such a window, takes the dead holder's lock over and goes on,
// rather than wait for ever; the lock is then consistent again.
func TestAddAfterUpdaterDiesInWindow(t *testing.T) {
	if !membarrier.Await() {
		t.Skip("membarrier's global expedited command is unavailable: Update always stores with a CAS")
	}
	a := newMixArgs(t, 0)
	c, ready := a.Counter, a.Ready
	p, err := plainDier.Start(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if err := awaitAtLeast(ready, 1); err != nil {
		p.Kill()
		t.Fatal(err, p.Wait())
	}
	p.Kill()
	p.Wait()
	added := make(chan int64)
	go func() { added <- value.Add(c, 100) }()
	select {
	case got := <-added:
		if got != 100 {
			t.Errorf("Add returned %d, want 100 (the dead Update had not stored)", got)
		}
	case <-time.After(shmtest.Timeout(t, time.Minute)):
		t.Fatal("Add still waits for the window of a dead process")
	}
	if got := c.Update(func(x *int64) { *x++ }); got != 101 {
		t.Fatalf("Update after the takeover returned %d, want 101", got)
	}
}

// TestAddNotHeldOffByLockAfterStuckWindow: a first Add that finds an
// Update's window open for long (here: held by the hook) waits for the
// window, not for the lock. It used to wait through the lock, and when the
// Update's goroutine took Lock as soon as its window closed and then
// waited for the Add (Lock does not hold Add off, says its doc), neither
// went on.
func TestAddNotHeldOffByLockAfterStuckWindow(t *testing.T) {
	v, at, _, polling, release := plainHold(t, cell.PlainOpen)
	locked := make(chan *value.Locked[int64])
	go func() {
		v.Update(func(x *int64) { *x++ })
		locked <- v.Lock()
	}()
	<-at
	added := make(chan int64, 1)
	go func() { added <- value.Add(v, 100) }()
	<-polling // the Add has looked at the window for long
	close(release)
	l := <-locked
	defer l.Unlock()
	select {
	case got := <-added:
		if got != 101 {
			t.Fatalf("Add returned %d, want 101", got)
		}
	case <-time.After(shmtest.Timeout(t, time.Minute)):
		t.Fatal("a first Add waits for a Lock holder that waits for it")
	}
}

const noMembarrierEnv = "SHMKIT_TEST_NO_MEMBARRIER"

// denyMembarrier makes membarrier(2) fail with ENOSYS in every thread of
// this process (a seccomp filter, as a container's profile or an old
// kernel would).
func denyMembarrier(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // the syscall number
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_MEMBARRIER},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		t.Fatal(e)
	}
}

// TestFirstAddWithoutMembarrier: where membarrier is refused, a handle's
// first Add cannot fence, and waits for the lock to be seen free, but not
// for a Lock holder of its own process (which opens no window): a
// goroutine that holds Lock and waits for another goroutine's Add goes on.
// It waited for ever. It runs in a child (the test binary again), whose
// seccomp filter refuses membarrier.
func TestFirstAddWithoutMembarrier(t *testing.T) {
	if os.Getenv(noMembarrierEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFirstAddWithoutMembarrier$", "-test.v")
		cmd.Env = append(os.Environ(), noMembarrierEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestFirstAddWithoutMembarrier")) {
			t.Fatalf("child did not pass:\n%s", out)
		}
		return
	}
	denyMembarrier(t)
	if membarrier.Await() || membarrier.Fence() == nil {
		t.Fatal("membarrier still runs under the filter")
	}
	v, err := value.New[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Update(func(x *int64) { *x++ }) // with a CAS: this process cannot register
	l := v.Lock()
	added := make(chan int64, 1)
	go func() { added <- value.Add(v, 1) }()
	select {
	case got := <-added:
		l.Unlock()
		if got != 2 {
			t.Fatalf("Add returned %d, want 2", got)
		}
	case <-time.After(shmtest.Timeout(t, time.Minute)):
		l.Unlock()
		t.Fatal("a first Add without membarrier waits for a Lock holder of its own process")
	}
	if got := v.Update(func(x *int64) { *x++ }); got != 3 {
		t.Fatalf("Update after the Add returned %d, want 3", got)
	}
}
