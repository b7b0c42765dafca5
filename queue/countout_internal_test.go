package queue

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/internal/procinfo"
)

// TestCountOutNeverUndercounts: while a dead process's record is counted
// out over and over, the derived unfinished count never drops below the
// one task that is really outstanding (a reader that straddled the count-out
// used to add -done of a record whose got had just been zeroed: Join could
// return with work left).
func TestCountOutNeverUndercounts(t *testing.T) {
	j, err := NewJoinable[int](Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Put(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	me := procinfo.Self()
	dead := procinfo.Ident{Pid: me.Pid, Start: me.Start + 1}.Word()
	rec := &j.ctl.tasks[peerSlots-1]
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			rec.got.Store(5)
			rec.done.Store(5)
			rec.ident.Store(dead)
			j.countOut()
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	for range 2_000_000 {
		if u := j.unfinished(); u < 1 {
			t.Fatalf("one task outstanding, unfinished read %d: Join would return", u)
		}
	}
}
