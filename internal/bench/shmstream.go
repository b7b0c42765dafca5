package bench

import (
	"context"
	"fmt"
	"sync/atomic"
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

// ShmStream layout: one lane per producer, each two position words on
// lines of their own (one writer each), then its ring of streamSlots
// messages packed back to back, the lane rounded up to whole lines.
//
//	off  word  written by  read by
//	  0  tail  producer    consumer  messages published
//	 64  head  consumer    producer  messages copied out
const (
	offTail     = 0
	offHead     = shm.CacheLine
	offRing     = 2 * shm.CacheLine
	streamSlots = 4096 // a Queue[[64]byte] of 4096 has 4096 slots of 80 bytes
	streamRun   = 64   // messages published, or given back, with one store
	streamGap   = 512  // messages the consumer lets queue in a lane before it copies (ringx.DataRun)
)

// lane is one producer's part of a ShmStream segment.
type lane struct {
	tail, head *atomic.Uint64
	ring       []byte
}

// laneBytes is the size of one lane of messages of size bytes.
func laneBytes(size int) int {
	return (offRing + streamSlots*size + shm.CacheLine - 1) &^ (shm.CacheLine - 1)
}

// lanes returns the n lanes of mem.
func lanes(mem []byte, n, size int) []lane {
	ls := make([]lane, n)
	for i := range ls {
		l := mem[i*laneBytes(size):]
		ls[i] = lane{atomics.MustUint64At(l, offTail), atomics.MustUint64At(l, offHead), l[offRing : offRing+streamSlots*size]}
	}
	return ls
}

type shmStreamArgs struct {
	Seg    *shm.Segment
	Size   int
	Totals []uint64 // messages each lane carries
	Around bool
}

// shmStreamPeer is ShmStream's consumer. It visits the lanes in turn: in
// a lane with streamGap messages queued (or its last ones) it copies a
// run of up to streamRun out into a buffer of its own, checks each
// message's first byte (the low byte of its number in the lane), and
// gives the run back with one store, until every lane's messages are
// read.
var shmStreamPeer = process.Register("shmkit-bench-shm-stream-peer", func(ctx context.Context, a shmStreamArgs) error {
	ls := lanes(a.Seg.Bytes(), len(a.Totals), a.Size)
	pos := make([]uint64, len(ls))
	left := 0
	for _, n := range a.Totals {
		if n > 0 {
			left++
		}
	}
	out := make([]byte, a.Size)
	for spins := 0; left > 0; {
		took := false
		for i, l := range ls {
			total := a.Totals[i]
			if pos[i] >= total {
				continue
			}
			avail := l.tail.Load() - pos[i] // observes: messages published
			if avail < streamGap && avail < total-pos[i] {
				continue
			}
			n := min(avail, streamRun)
			if !a.Around {
				prefetchRun(l.ring, pos[i], n, a.Size, prefetch.Lines)
			}
			for p := pos[i]; p < pos[i]+n; p++ {
				off := int(p%streamSlots) * a.Size
				copy(out, l.ring[off:off+a.Size])
				if out[0] != byte(p) { // (the check also keeps the copy from being dead code)
					return fmt.Errorf("lane %d message %d: first byte %d", i, p, out[0])
				}
			}
			pos[i] += n
			l.head.Store(pos[i]) // publishes: the run's slots are free (our reads came before)
			if pos[i] == total {
				left--
			}
			took = true
		}
		if !took {
			if spins++; spins&spinBudget == spinBudget {
				schedYield() // a producer may share our core
			}
		}
	}
	return nil
})

// ShmStream measures a bare stream of size-byte messages through shared
// memory from producers goroutines of this process to another process,
// each producer with a lane of its own: a ring with no header, no claim
// and no wait but a spin, where the producer copies each message in and
// publishes streamRun of them with one store to its own line, and the
// consumer, once streamGap are queued in a lane, copies each out and gives
// back a run with one store to its own. It is what such messages cost
// before anything a ring or queue adds (a header and sequence word per
// slot, claims shared by the producers, parking): the copy in, the copy
// out, and each line's trip between the cores. With around, each producer
// fills a run in a buffer of its own and copies it into its lane around
// the caches (memcopy.Around), so that it never waits to own a line the
// consumer read a lap before, and the consumer reads the lines from
// memory. One op is one message; b.N messages in all.
func ShmStream(b *testing.B, size, producers int, around bool) {
	benchutil.ReportFloor(b) // before the peer starts: the floor of this run
	producers = max(producers, 1)
	seg, err := shm.CreateAnon(int64(producers * laneBytes(size)))
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	ls := lanes(seg.Bytes(), producers, size)
	totals := make([]uint64, producers)
	for g := range totals {
		totals[g] = uint64(benchutil.Share(b.N, producers, g)) // what benchutil.Producers gives goroutine g
	}
	p, err := shmStreamPeer.Start(context.Background(), shmStreamArgs{Seg: seg, Size: size, Totals: totals, Around: around})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now() // the peer's start-up is inside, as it is for the socket's
	err = benchutil.Producers(producers, b.N, func(g, n int) error {
		return streamLane(ls[g], size, uint64(n), around, p)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		b.Fatal(fmt.Errorf("stream peer: %w", err))
	}
	benchutil.ReportRate(b, b.N, size, elapsed)
}

// streamLane is one ShmStream producer: it sends total messages through
// l and returns once the consumer has read them all.
func streamLane(l lane, size int, total uint64, around bool, peer *process.Process) error {
	msg := make([]byte, size)
	var stage []byte
	if around {
		stage = make([]byte, streamRun*size)
	}
	wait := func(spins int) error {
		if spins&spinBudget == spinBudget {
			if !peer.Alive() {
				return fmt.Errorf("stream peer died: %w", peer.Wait())
			}
			schedYield() // the consumer may share our core
		}
		return nil
	}
	var pos uint64
	for spins := 0; pos < total; spins++ {
		room := streamSlots - (pos - l.head.Load()) // observes: slots given back
		if room < streamRun && room < total-pos {
			if err := wait(spins); err != nil {
				return err
			}
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
			memcopy.Around(l.ring[off:off+int(n)*size], stage[:int(n)*size])
		} else {
			prefetchRun(l.ring, pos+n, streamRun, size, prefetch.Write) // the next run's lines
			for q := pos; q < pos+n; q++ {
				o := off + int(q-pos)*size
				copy(l.ring[o:o+size], msg)
				l.ring[o] = byte(q) // not msg[0] first: the copy's load of it would wait for every store before it
			}
		}
		pos += n
		l.tail.Store(pos) // publishes: the run's messages, written before it
	}
	for spins := 0; l.head.Load() < total; spins++ { // observes: every message read
		if err := wait(spins); err != nil {
			return err
		}
	}
	return nil
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
