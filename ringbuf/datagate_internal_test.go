package ringbuf

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/ringx"
)

// TestHasDataAt: hasDataAt(n) holds exactly when n messages are queued,
// across laps and with the ring full.
func TestHasDataAt(t *testing.T) {
	r, _ := mpmcPair(t, 16, nil)
	check := func(want int) {
		t.Helper()
		for n := 1; n <= int(r.capacity); n++ {
			if got := r.hasDataAt(uint64(n)); got != (n <= want) {
				t.Fatalf("hasDataAt(%d) = %v with %d queued", n, got, want)
			}
		}
	}
	check(0)
	for range 3 { // the slots' sequence numbers move on a lap each time
		fillMPMC(t, r, 5)
		check(5)
		fillMPMC(t, r, 11)
		check(16)
		takeMPMC(t, r, 9)
		check(7)
		takeMPMC(t, r, 7)
		check(0)
	}
}

// TestDataGateWaitsThenTakesWhatThereIs: a streaming consumer's gate on a
// ring with fewer messages than its run stays shut for DataWindow and then
// opens on what there is (a producer that has stopped must never hold a
// Get back for good); on an empty ring it never opens; a run queued opens
// it at once, and so does one message for a consumer that is not
// streaming.
func TestDataGateWaitsThenTakesWhatThereIs(t *testing.T) {
	r, _ := mpmcPair(t, 64, nil)
	fillMPMC(t, r, 2)
	g := ringx.NewDataGate((*mpmcX)(r), ringx.DataRun, 64) // run wanted: 16
	opensAfter(t, g.Open, ringx.DataWindow, "2 of 16 messages queued")
	if g := ringx.NewDataGate((*mpmcX)(r), 1, 64); !g.Open() {
		t.Fatal("gate of a consumer that is not streaming shut with 2 messages queued")
	}

	takeMPMC(t, r, 2)
	empty := ringx.NewDataGate((*mpmcX)(r), ringx.DataRun, 64)
	staysShut(t, empty.Open, ringx.DataWindow, "an empty ring")

	fillMPMC(t, r, 16)
	if g := ringx.NewDataGate((*mpmcX)(r), ringx.DataRun, 64); !g.Open() {
		t.Fatal("gate shut with the run it wants")
	}
}

// TestDataGateBatchWaitsForDataRun: a streaming GetBatch's gate waits for
// DataRun messages, not for its own batch, when the ring holds at least
// four times DataRun: a batch of 64 queued leaves it shut until the window
// ends, and DataRun queued opens it at once. (Taking each batch as soon as
// it was queued kept the consumer on the lines the producer was writing.)
func TestDataGateBatchWaitsForDataRun(t *testing.T) {
	r, _ := mpmcPair(t, 4*ringx.DataRun, nil)
	fillMPMC(t, r, 64)
	g := ringx.NewDataGate((*mpmcX)(r), 64, 4*ringx.DataRun)
	opensAfter(t, g.Open, ringx.DataWindow, "a batch of 64 queued")
	fillMPMC(t, r, ringx.DataRun-64)
	if g := ringx.NewDataGate((*mpmcX)(r), 64, 4*ringx.DataRun); !g.Open() {
		t.Fatalf("gate of a batch of 64 shut with %d queued", ringx.DataRun)
	}
}

// gateLooks is a ring as a DataGate sees it, counting the gate's looks
// (HasDataAt: one at every look short of the window's end).
type gateLooks struct {
	ringx.Data
	looks *atomic.Int32
}

func (d gateLooks) HasDataAt(n int) bool {
	d.looks.Add(1)
	return d.Data.HasDataAt(n)
}

// TestStreamingWaitTakesMessageBeforePark: a streaming Get whose gate is
// still inside its window when the waiter stops spinning (a spin shorter
// than DataWindow; here none, WithSpin(0)) takes the message queued
// before it parks. The producer's wake came before the waiter was
// counted: a waiter that parked would sleep spin.FirstPark (20 times the
// window) and take the message only at its gate's second look, after it.
func TestStreamingWaitTakesMessageBeforePark(t *testing.T) {
	c, _ := mpmcPair(t, 64, []Option{WithSpin(0), WithPoll(time.Hour)})
	fillMPMC(t, c, 1) // a lone message: fewer than the gate's run
	var looks atomic.Int32
	g := ringx.NewDataGate(gateLooks{(*mpmcX)(c), &looks}, ringx.DataRun, int(c.limit)) // as GetFunc's after a Get that found its message
	if err := c.lockGet(noWait); err != nil {
		t.Fatal(err)
	}
	slow, err := c.awaitData(ctxForTest(t), false, &g, ringx.DataRun) // g set: kept
	c.getMu.Unlock()
	if err != nil || slow {
		t.Fatalf("awaitData with a message queued = %v, %v; want false, nil", slow, err)
	}
	if n := looks.Load(); n != 1 {
		t.Fatalf("the gate was looked at %d times: the waiter parked with a message queued, want 1 look and no park", n)
	}
	takeMPMC(t, c, 1)
}
