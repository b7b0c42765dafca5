package manager_test

import (
	"context"
	"testing"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// leaveSegment creates a segment called name and exits without removing
// it, as a process killed while it served a manager leaves its listener.
var leaveSegment = process.Register("manager-test-leave-segment", func(ctx context.Context, name string) error {
	seg, err := shm.Create(name, 8<<10)
	if err != nil {
		return err
	}
	return seg.Close()
})

// TestNewOverDeadListenerName: a listener name is its creator's PID and a
// count of that process's managers, so a process that has the PID of a
// dead one can meet a name it left in /dev/shm (a server killed before it
// removed its listener). New then failed with ErrExist; it takes the name
// over, since its creator is dead, and serves under it.
func TestNewOverDeadListenerName(t *testing.T) {
	ctx := context.Background()
	name := manager.NextListenName()
	p, err := leaveSegment.Start(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	defer shm.Unlink(name) // if New left it
	if info, err := shm.Stat(name); err != nil || info.CreatorAlive {
		t.Fatalf("the dead process's segment: %+v, %v", info, err)
	}
	m, err := manager.New()
	if err != nil {
		t.Fatalf("New over a dead process's name %s: %v", name, err)
	}
	defer m.Shutdown()
	if m.Addr() != "shm:"+name {
		t.Fatalf("New serves at %s, want shm:%s", m.Addr(), name)
	}
	if info, err := shm.Stat(name); err != nil || !info.CreatorAlive {
		t.Fatalf("the name after New: %+v, %v; want this process's live listener", info, err)
	}
}
