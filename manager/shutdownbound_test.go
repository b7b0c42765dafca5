package manager_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
)

type stuck struct{}

// stuckHold is a registered method that never returns (an hour is for
// ever here): it opens the FIFO at path, writes a byte to say it runs, and
// sleeps.
var (
	stuckType = manager.RegisterType("test.stuck", func() *stuck { return &stuck{} })
	stuckHold = manager.RegisterMethod(stuckType, "hold", func(_ *stuck, path string) (int, error) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		f.Write([]byte{1})
		f.Close()
		time.Sleep(time.Hour)
		return 0, nil
	})
)

// TestShutdownBoundedByStuckMethod: a registered method that never returns
// keeps the server from stopping (it waits for its calls), and Shutdown
// waited for the server process for ever. Python's manager gives its
// server a second after the shutdown request and then terminates it.
// Shutdown must return, the server process must be gone, the stuck call
// must fail, and nothing may be left in /dev/shm.
func TestShutdownBoundedByStuckMethod(t *testing.T) {
	checkNoLeftovers(t)
	ctx := testCtx(t)
	m := must[*manager.Manager](t)(manager.Start(ctx))
	shut := false
	defer func() {
		if !shut {
			syscall.Kill(manager.ServerPid(m), syscall.SIGKILL)
			m.Shutdown()
		}
	}()
	o := must[*manager.Object[stuck]](t)(stuckType.New(ctx, m))
	fifo := filepath.Join(t.TempDir(), "running")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	called := make(chan error, 1)
	go func() {
		_, err := stuckHold.Call(ctx, o, fifo)
		called <- err
	}()
	// Opening the FIFO for reading waits for the method to open it for
	// writing: once the byte is read, the method runs in the server.
	f, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pid := manager.ServerPid(m)
	done := make(chan error, 1)
	go func() { done <- m.Shutdown() }()
	select {
	case err := <-done:
		shut = true
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(shmtest.Timeout(t, 30*time.Second)):
		t.Fatal("Shutdown still waiting after 30 s for a server whose method never returns")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the server process %d after Shutdown: kill(0) = %v, want ESRCH", pid, err)
	}
	select {
	case err := <-called:
		if err == nil {
			t.Error("the stuck call returned nil after Shutdown")
		}
	case <-time.After(shmtest.Timeout(t, 30*time.Second)):
		t.Error("the stuck call still waiting 30 s after Shutdown")
	}
}
