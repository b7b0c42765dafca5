package process

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/shmkit/shmkit/internal/handoff"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/value"
)

// reserving is an argument that reserves a peer slot for the child while
// it is encoded, as a ring, a queue or a pipe end does (package handoff):
// it writes its process's stand-in into slot, which Start's Commit is to
// replace by the child's word.
type reserving struct{ slot *value.Value[uint64] }

func (r reserving) GobEncode() ([]byte, error) {
	if r.slot != nil && handoff.Active() {
		standIn := procinfo.HandoffWord(procinfo.Self().Word())
		value.Swap(r.slot, standIn)
		handoff.Add(handoff.Slot{Word: casWord{r.slot}, StandIn: standIn})
	}
	return []byte{0}, nil
}

func (*reserving) GobDecode([]byte) error { return nil }

type casWord struct{ v *value.Value[uint64] }

func (c casWord) CompareAndSwap(old, new uint64) bool { return value.CompareAndSwap(c.v, old, new) }

type adoptArgs struct {
	Slot *value.Value[uint64]
	R    reserving
}

// adoptCheck is a child that attaches as a ring's handle does: it adopts
// the slot reserved for it only if the slot names it by then.
var adoptCheck = Register("process-test-adopt-reserved", func(ctx context.Context, a adoptArgs) error {
	if got, me := a.Slot.Load(), procinfo.Self().Word(); got != me {
		return fmt.Errorf("decoded its arguments with the slot reserved for it holding %#x, not its word %#x", got, me)
	}
	return nil
})

// TestReservationCommittedBeforeChildDecodes: a child must find the slots
// reserved for it naming it as soon as it can decode its arguments. A
// ring's handle adopts the slot reserved for it only when the slot holds
// its word; one that attached first took another slot, and the Commit
// that came later left the reserved one naming the child for as long as
// it lives: a second participant slot that no Close of the child gives
// back, a producer the consumers wait for after the child closed its
// handle. Start committed after the arguments were on their way, so a
// parent descheduled between the two (held here by startedHook until the
// child exits) lost that race.
func TestReservationCommittedBeforeChildDecodes(t *testing.T) {
	slot, err := value.New[uint64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer slot.Close()
	startedHook = func(p *Process) { <-p.done } // the child has decoded, checked and exited
	defer func() { startedHook = nil }()
	p, err := adoptCheck.Start(context.Background(), adoptArgs{Slot: slot, R: reserving{slot}}, WithStderr(io.Discard))
	startedHook = nil
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}
