package bench

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/prefetch"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// ShmStream layout: two position words, each on a line of its own (one
// writer each), then the ring of streamSlots messages packed back to back.
//
//	off  word  written by  read by
//	  0  tail  parent      peer     messages published
//	 64  head  peer        parent   messages copied out
const (
	offTail     = 0
	offHead     = shm.CacheLine
	offRing     = 2 * shm.CacheLine
	streamSlots = 4096 // a Queue[[64]byte] of 4096 has 4096 slots of 80 bytes
	streamRun   = 64   // messages published, or given back, with one store
	streamGap   = 512  // messages the consumer lets queue before it copies (ringx.DataRun)
)

type shmStreamArgs struct {
	Seg    *shm.Segment
	Size   int
	Total  uint64
	Around bool
}

// shmStreamPeer is ShmStream's consumer: once streamGap messages are
// queued (or the last ones), it copies them out a run of streamRun at a
// time into a buffer of its own, checks each message's first byte (the
// low byte of its number), and gives each run back with one store, until
// Total messages are read.
var shmStreamPeer = process.Register("shmkit-bench-shm-stream-peer", func(ctx context.Context, a shmStreamArgs) error {
	mem := a.Seg.Bytes()
	tail, head := atomics.MustUint64At(mem, offTail), atomics.MustUint64At(mem, offHead)
	ring := mem[offRing:]
	out := make([]byte, a.Size)
	for pos, spins := uint64(0), 0; pos < a.Total; spins++ {
		avail := tail.Load() - pos // observes: messages published
		if avail < streamGap && avail < a.Total-pos {
			if spins&spinBudget == spinBudget {
				schedYield() // the producer may share our core
			}
			continue
		}
		n := min(avail, streamRun)
		if !a.Around {
			prefetchRun(ring, pos, n, a.Size, prefetch.Lines)
		}
		for p := pos; p < pos+n; p++ {
			off := int(p%streamSlots) * a.Size
			copy(out, ring[off:off+a.Size])
			if out[0] != byte(p) { // (the check also keeps the copy from being dead code)
				return fmt.Errorf("message %d: first byte %d", p, out[0])
			}
		}
		pos += n
		head.Store(pos) // publishes: the run's slots are free (our reads came before)
	}
	return nil
})

// ShmStream measures a bare stream of size-byte messages through shared
// memory from this process to another: a ring with no header, no claim
// and no wait but a spin, where the producer copies each message in and
// publishes streamRun of them with one store to its own line, and the
// consumer, once streamGap are queued, copies each out and gives back a
// run with one store to its own. It is what a ring of such messages
// costs before anything a ring or queue adds (a header and sequence word
// per slot, claims, parking): the copy in, the copy out, and each line's
// trip between the cores. With around, the producer fills a run in a
// buffer of its own and copies it into the ring around the caches
// (memcopy.Around), so that it never waits to own a line the consumer
// read a lap before, and the consumer reads the lines from memory. One op
// is one message.
func ShmStream(b *testing.B, size int, around bool) {
	benchutil.ReportFloor(b) // before the peer starts: the floor of this run
	seg, err := shm.CreateAnon(int64(offRing + streamSlots*size))
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	mem := seg.Bytes()
	tail, head := atomics.MustUint64At(mem, offTail), atomics.MustUint64At(mem, offHead)
	ring := mem[offRing:]
	total := uint64(b.N)
	p, err := shmStreamPeer.Start(context.Background(), shmStreamArgs{Seg: seg, Size: size, Total: total, Around: around})
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	stage := make([]byte, streamRun*size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now() // the peer's start-up is inside, as it is for the socket's
	alive := func(spins int) {
		if spins&spinBudget == spinBudget {
			if !p.Alive() {
				b.Fatal(p.Wait())
			}
			schedYield() // the consumer may share our core
		}
	}
	var pos uint64
	for spins := 0; pos < total; spins++ {
		room := streamSlots - (pos - head.Load()) // observes: slots given back
		if room < streamRun && room < total-pos {
			alive(spins)
			continue
		}
		n := min(room, streamRun, total-pos, streamSlots-pos%streamSlots) // (a run that wraps is cut at the end)
		off := int(pos%streamSlots) * size
		if around {
			for q := pos; q < pos+n; q++ {
				o := int(q-pos) * size
				copy(stage[o:o+size], msg)
				stage[o] = byte(q)
			}
			memcopy.Around(ring[off:off+int(n)*size], stage[:int(n)*size])
		} else {
			prefetchRun(ring, pos+n, streamRun, size, prefetch.Write) // the next run's lines
			for q := pos; q < pos+n; q++ {
				o := off + int(q-pos)*size
				copy(ring[o:o+size], msg)
				ring[o] = byte(q) // not msg[0] first: the copy's load of it would wait for every store before it
			}
		}
		pos += n
		tail.Store(pos) // publishes: the run's messages, written before it
	}
	for spins := 0; head.Load() < total; spins++ { // observes: every message read
		alive(spins)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := p.Wait(); err != nil {
		b.Fatal(fmt.Errorf("stream peer: %w", err))
	}
	benchutil.ReportRate(b, b.N, size, elapsed)
}

// prefetchRun asks with fetch for the lines of the n messages of size
// bytes from position pos of ring (streamSlots of them).
func prefetchRun(ring []byte, pos, n uint64, size int, fetch func(p unsafe.Pointer, n int)) {
	off := int(pos%streamSlots) * size
	k := min(int(n)*size, streamSlots*size-off)
	fetch(unsafe.Pointer(&ring[off]), k)
	if rest := int(n)*size - k; rest > 0 {
		fetch(unsafe.Pointer(&ring[0]), min(rest, streamSlots*size))
	}
}
