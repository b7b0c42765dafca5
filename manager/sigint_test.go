package manager_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/manager"
)

// TestServerSurvivesSIGINT: Ctrl-C in a terminal sends SIGINT to the whole
// foreground process group, and the server process is in its creator's.
// Python's manager server ignores SIGINT (bpo-36368), so that a program
// that catches it can still read its shared objects while it winds down.
// After a SIGINT sent to the server, a call must still be answered and
// Shutdown must find the server alive. (A signal is handled before the
// process it is sent to runs on: the call and the Shutdown see whether it
// killed the server.)
func TestServerSurvivesSIGINT(t *testing.T) {
	checkNoLeftovers(t)
	ctx := testCtx(t)
	m := must[*manager.Manager](t)(manager.Start(ctx))
	defer m.Shutdown()
	d := must[*manager.Dict[string, int]](t)(manager.NewDict[string, int](ctx, m))
	if err := d.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	pid := manager.ServerPid(m)
	if pg, err := syscall.Getpgid(pid); err != nil || pg != syscall.Getpgrp() {
		t.Logf("the server's process group is %d (%v), this process's %d", pg, err, syscall.Getpgrp())
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	call, cancel := context.WithTimeout(ctx, shmtest.Timeout(t, 10*time.Second))
	defer cancel()
	if v, _, err := d.Get(call, "k"); err != nil || v != 1 {
		t.Errorf("a call after SIGINT: %d, %v; want 1, nil", v, err)
	}
	if err := m.Shutdown(); err != nil {
		t.Fatalf("Shutdown after SIGINT: %v", err)
	}
}
