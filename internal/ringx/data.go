package ringx

import (
	"time"

	"github.com/shmkit/shmkit/internal/spin"
)

// A consumer that has caught up with a stream (its last Get found a
// message without waiting, and this one finds the ring empty) does not
// take the next message the moment it is published: it waits until a run
// of them is queued (DataRun, or the batch it asked for where that is
// longer, up to a quarter of the ring), for at most DataWindow, and takes
// whatever there is after that; a GetBatch then takes its batch, and the
// next finds the rest at once. The reason is the
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
//
// A run of 512 since, for Get and GetBatch alike (on a default queue, of
// 1024, the quarter's 256), against 128 for a Get and the batch's own
// length for a GetBatch: a consumer that waited for its batch of 64 took
// it from the lines the producer had just written, next to the ones it was
// writing, and its next batch was not queued yet, so it waited again with
// a gate of one and took the slots chunk by chunk as the producer
// published them. Profiled in one
// process (two goroutines, PutBatch and GetBatchFunc of 64), the producer
// filled a lap alone at 10.5 ns a message and the consumer drained it
// alone at 7.5, while together they ran at 30 M msgs/s, 82% of messages
// taken in runs of 8, the producer's stores waiting for their lines; with
// a run of 1024, 78-86 M. BenchmarkProducers (AMD EPYC VM, 3 interleaved
// passes, floor p50 140 ns), M msgs/s with the batch's length / 512 /
// 1024: ringbuf mpmc-batch with 1, 3 and 8 producers 29.6 / 74.9 / 81.4,
// 44.6 / 76.5 / 69.3 and 51.2 / 73.0 / 82.4; queue-batch with 1 and 3
// 26.7 / 43.4 / 40.0 and 31.2 / 47.5 / 42.9. A Get one at a time moved
// neither way (queue/default 17.2 -> 18.0 M, queue with 1 and 3 producers
// 18.5 / 18.3 -> 17.1 / 18.4): it rarely finds the ring empty. Where a
// bound the gate does not count holds fewer messages than the run (a
// queue's MaxBytes), a streaming consumer waits the whole window.
const (
	DataRun    = 512
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
// slots, that wants k messages: for one that is streaming (Want: k > 1) a
// run of DataRun or k, the longer, up to a quarter of the ring; one
// message for one that is not.
func NewDataGate(r Data, k, capacity int) DataGate {
	if k > 1 {
		k = max(k, DataRun)
	}
	return DataGate{r: r, run: max(1, min(k, capacity/4))}
}

// Want is the k of a consumer's gate: k (DataRun for a Get, the batch's
// length for a GetBatch, which NewDataGate raises to DataRun) when its
// last Get found its message without waiting, 1 when it waited.
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

// A consumer that takes messages one at a time can also fall into step
// with its producer without ever finding the ring empty: a few slots
// behind it, it reads each slot's lines just after the producer wrote
// them, one transfer from the other core at a time, its loads (and its
// hardware prefetcher) take the lines the producer is still writing, and
// the producer's stores wait for them to come back. Neither side waits;
// both stall, at about one line's trip between the cores a message. So
// once every BehindEvery takes such a consumer looks how far behind it is:
// with at least BehindMin messages queued but not BehindNear, it waits
// until BehindRun are (at most BehindWindow), and then takes them from
// lines the producer has left.
//
// Set by a sweep of BenchmarkProducers, Queue[[64]byte] of 4096, Put and
// Get each, one producer, 2-3 interleaved runs of each setting (AMD EPYC
// VM, floor p50 130-150 ns), M msgs/s: without the look 17.8-21.2; 64 /
// 256 (BehindNear / BehindRun) 24.0-28.2 in three sweeps; 64 / 192
// 26.0-28.6; 64 / 128 26.4-27.3; 96 / 256 27.3-28.6; 128 / 512 17.4-20.2;
// 32 / 128 14.0-20.5; a look every 16 takes 20.1-27.7; a window of 1 or 2
// µs 24.9-27.6. 64 / 256 is not the sweep's best, only among those within
// its noise. Counted in the consumer process, nearly every wait of that
// benchmark ended by the window, not by the run (one wait in 170 to one in
// 4000 messages, from run to run): the consumer keeps off the producer's
// lines for 5 µs and then takes what it left. A consumer with fewer than
// BehindMin queued is not in step with a stream (a request answered one at
// a time has one queued at most) and does not wait; a ring bound to fewer
// than 4 × BehindRun messages never waits. What it costs: a consumer
// taking one at a time from a producer that publishes runs (PutBatch) lost
// about a tenth (docs/queue.md, "A consumer that keeps its distance"),
// although it waited about once in a million messages there: unexplained.
const (
	BehindEvery  = 64
	BehindMin    = 8
	BehindNear   = 64
	BehindRun    = 256
	BehindWindow = 5 * time.Microsecond
)

// Behind is one consumer handle's count of its tries at one message (a
// Get, or a claim that may find none); its zero value is ready. Its calls
// are serialised with the handle's other takes (under the handle's lock).
// A take calls Tick, and once Tick says so, Look.
type Behind struct{ n uint64 }

// Tick counts one take and reports whether it is the one in BehindEvery
// that looks (Look). It is what every take pays, small enough to inline.
func (b *Behind) Tick() bool {
	b.n++
	return b.n%BehindEvery == 0
}

// Look reports whether the consumer is to wait for a run now (WaitRun):
// with at least BehindMin and fewer than BehindNear messages queued on r,
// a ring bound to bound messages (never one bound to under 4 ×
// BehindRun).
func Look(r Data, bound int) bool {
	return bound >= 4*BehindRun && r.HasDataAt(BehindMin) && !r.HasDataAt(BehindNear)
}

// WaitRun spins until BehindRun messages are queued on r, for at most
// BehindWindow.
func WaitRun(r Data) {
	var w window
	for !r.HasDataAt(BehindRun) && !w.over(BehindWindow) {
		spin.Relax()
	}
}
