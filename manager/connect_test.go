package manager_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/manager"
)

// TestConnectNowhere: Connect to an address where no server listens says
// so, naming the address, and still matches ErrClosed; it said "manager:
// shut down", of a server that may never have run.
func TestConnectNowhere(t *testing.T) {
	const addr = "shm:shmkit-test-no-such-manager"
	_, err := manager.Connect(testCtx(t), addr)
	if !errors.Is(err, manager.ErrClosed) {
		t.Fatalf("Connect(%q) = %v, want an error matching ErrClosed", addr, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no server") || !strings.Contains(msg, addr) || strings.HasPrefix(msg, manager.ErrClosed.Error()) {
		t.Fatalf("Connect(%q) = %q: want it to say that no server listens at the address", addr, msg)
	}
}
