package ringx

import "time"

// A consumer that has caught up with a stream (its last Get found a
// message without waiting, and this one finds the ring empty) does not
// take the next message the moment it is published: it waits until a run
// of them is queued (DataRun, up to a quarter of the ring), for at most
// DataWindow, and takes whatever there is after that. The reason is the
// producer's: a consumer that spins on the slot the producer is filling
// takes that slot's line at every look, and the producer's next store to
// it (and the locked instruction after its stores) waits for the line to
// come back, once for every message; a consumer looking at the last slot
// of the run takes one line the producer will not write until a run
// later. This is RoomGate's wait turned around: Put's room, Get's data.
//
// It costs a waiting consumer up to DataWindow of latency, only after a
// Get that found the ring busy: a consumer that waited for its last
// message (a request answered one at a time, a queue that is mostly
// empty) takes the next one at once. The gate holds a waiter back only
// while it spins: one that stops spinning inside the window (a spin
// shorter than DataWindow) takes what there is before it parks (queue:
// WaitFor's try; ringbuf: its wait's settle), for the wake of a message
// that came before it was counted as a waiter was missed, and it would
// sleep spin.FirstPark with the message queued.
//
// A run of 128 over 10 µs, against 32 over 5 µs: Get one at a time of
// 64-byte messages, one producer, 4 interleaved passes, once the
// consumer's decode was a few moves instead of a call (codec.Binary):
// a stream through a default queue 19.7 -> 23.5 M msgs/s, through a
// queue of 4096 21.9 -> 25.9 M; a faster consumer caught up more often,
// and a short run kept it close behind the producer. GetBatch, the
// rings' own benchmarks and a round trip's p50 unchanged.
const (
	DataRun    = 128
	DataWindow = 10 * time.Microsecond
)

// Data is what a DataGate looks at: an MPMC ring's consumer side.
type Data interface {
	// HasDataAt: see MPMC.
	HasDataAt(n int) bool
	// HasData: see MPMC.
	HasData() bool
}

// DataGate is one waiting consumer's wait for a run of messages (see
// above); a run of 1 waits for a message alone. Make it with NewDataGate.
type DataGate struct {
	r   Data
	run int
	w   window // from its first look short of a run (see RoomGate)
}

// NewDataGate returns the gate of a consumer of r, a ring of capacity
// slots, that wants k messages: a run of up to a quarter of the ring for
// one that is streaming (Want), one message for one that is not.
func NewDataGate(r Data, k, capacity int) DataGate {
	return DataGate{r: r, run: max(1, min(k, capacity/4))}
}

// Want is the k of a consumer's gate: k (DataRun for a Get, the batch's
// length for a GetBatch) when its last Get found its message without
// waiting, 1 when it waited.
func Want(streaming bool, k int) int {
	if streaming {
		return k
	}
	return 1
}

// Open reports whether the consumer may try now: a run queued, or a
// message once DataWindow has passed since its first look.
func (g *DataGate) Open() bool {
	if g.run <= 1 {
		return g.r.HasData()
	}
	if g.r.HasDataAt(g.run) {
		// The head too: a run of slots past a head that a producer
		// killed mid-Put still holds must not keep the gate open, or the
		// wait would never poll for the rescue that frees it.
		return g.r.HasData()
	}
	return g.w.over(DataWindow) && g.r.HasData()
}
