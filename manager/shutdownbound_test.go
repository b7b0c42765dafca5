package manager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
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

type stuckArgs struct {
	O    *manager.Object[stuck]
	FIFO string
}

// stuckCaller calls stuckHold from a worker process.
var stuckCaller = process.Register("test.stuckcaller", func(ctx context.Context, a stuckArgs) error {
	_, err := stuckHold.Call(ctx, a.O, a.FIFO)
	return err
})

// TestShutdownBoundedByStuckMethod: a registered method that never returns
// kept the server from stopping (it waits for its calls), and Shutdown
// waited for the server process for ever. Python's manager gives its
// server a second after the shutdown request and then terminates it.
// Shutdown must return nil (the server exited on its own, not killed by
// Shutdown's backstop, which Shutdown reports), the server process must
// be gone, the stuck call must fail, and nothing may be left in /dev/shm:
// with the call through the server's pipes, and through a transport of
// another kind (WithServer), whose stop waits for its Serve calls. With
// the server in this process (New) and the call from a worker process,
// Shutdown must return too.
func TestShutdownBoundedByStuckMethod(t *testing.T) {
	t.Run("process", func(t *testing.T) { shutdownStuck(t, "process") })
	t.Run("transport", func(t *testing.T) { shutdownStuck(t, "transport") })
	t.Run("inprocess", func(t *testing.T) { shutdownStuck(t, "inprocess") })
}

func shutdownStuck(t *testing.T, kind string) {
	checkNoLeftovers(t)
	ctx := testCtx(t)
	var m, via *manager.Manager
	switch kind {
	case "inprocess":
		m = must[*manager.Manager](t)(manager.New())
	case "transport":
		alt := shmtest.Name(t) + "-alt"
		m = must[*manager.Manager](t)(manager.Start(ctx, manager.WithServer("test.alt", alt)))
		via = must[*manager.Manager](t)(manager.Connect(ctx, "alt:"+alt))
	default:
		m = must[*manager.Manager](t)(manager.Start(ctx))
	}
	if via == nil {
		via = m
	}
	proc := kind != "inprocess"
	shutting, shut := false, false
	defer func() {
		if proc && !shut { // a failed test must not leave the server running
			syscall.Kill(manager.ServerPid(m), syscall.SIGKILL)
		}
		if !shutting { // (a Shutdown that hung holds its Once: another would wait on it)
			m.Shutdown()
		}
	}()
	o := must[*manager.Object[stuck]](t)(stuckType.New(ctx, via))
	fifo := filepath.Join(t.TempDir(), "running")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	called := make(chan error, 1)
	if proc {
		go func() {
			_, err := stuckHold.Call(ctx, o, fifo)
			called <- err
		}()
	} else {
		// From another process: this one's calls run the method in the
		// caller's goroutine, and the server waits for pipe clients only.
		p, err := stuckCaller.Start(ctx, stuckArgs{O: o, FIFO: fifo})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Kill() // its call waits for a reply the server never sends
		go func() { called <- p.Wait() }()
	}
	// Opening the FIFO for reading waits for the method to open it for
	// writing: once the byte is read, the method runs in the server.
	running := make(chan error, 1)
	go func() {
		f, err := os.Open(fifo)
		if err == nil {
			_, err = f.Read(make([]byte, 1))
			f.Close()
		}
		running <- err
	}()
	select {
	case err := <-running:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-called:
		t.Fatalf("the call ended before its method ran: %v", err)
	case <-time.After(shmtest.Timeout(t, 30*time.Second)):
		t.Fatal("the method not running after 30 s")
	}
	pid := 0
	if proc {
		pid = manager.ServerPid(m)
	}
	done := make(chan error, 1)
	shutting = true
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
	if !proc {
		return // the method goes on in its goroutine here, and its caller waits
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
