package corrupt_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/shmkit/shmkit/internal/ringx"
	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

const ringCap = 4096

// vring is what the SPSC and MPSC rings (ringbuf's variable-record ring)
// have in common.
type vring interface {
	AcquireConsumer(ctx context.Context) error
	AttachConsumer() error
	AttachProducer() error
	Cancel()
	Cap() int
	Close() error
	CloseRead() error
	CloseWrite() error
	Commit()
	Len() int
	MaxRecord() int
	Peek(ctx context.Context) ([]byte, error)
	Read(ctx context.Context, buf []byte) (int, error)
	ReadBatch(ctx context.Context, fn func(rec []byte) bool) (int, error)
	Discard()
	ReleaseConsumer()
	Reserve(ctx context.Context, n int) ([]byte, error)
	TryPeek() (rec []byte, ok bool, err error)
	TryRead(buf []byte) (n int, ok bool, err error)
	TryReadBatch(fn func(rec []byte) bool) (int, error)
	TryReserve(n int) (buf []byte, ok bool, err error)
	TryWrite(p []byte) (ok bool, err error)
	Write(ctx context.Context, p []byte) error
}

// prefill writes two records, so that consumers find some.
func prefill(r vring) error {
	for _, rec := range []string{"first record", "second, longer record of the ring"} {
		if err := r.Write(context.Background(), []byte(rec)); err != nil {
			return err
		}
	}
	if s, ok := r.(*ringbuf.SPSC); ok {
		s.Flush()
	}
	return nil
}

func vringOps(r vring) []op {
	buf := make([]byte, 256)
	recCheck := func(what string, rec []byte) string {
		return checkN(what+" record length", len(rec), r.MaxRecord())
	}
	ops := []op{
		{"Write", func(ctx context.Context) (string, error) { return plain(r.Write(ctx, []byte("hello"))) }},
		{"TryWrite", func(context.Context) (string, error) { _, err := r.TryWrite([]byte("hello")); return plain(err) }},
		{"Reserve", func(ctx context.Context) (string, error) {
			b, err := r.Reserve(ctx, 16)
			if err != nil {
				return plain(err)
			}
			if len(b) < 16 {
				return fmt.Sprintf("Reserve(16) gave %d bytes", len(b)), nil
			}
			copy(b, "reserved")
			r.Commit()
			return "", nil
		}},
		{"TryReserve", func(context.Context) (string, error) {
			b, ok, err := r.TryReserve(16)
			if ok {
				if len(b) < 16 {
					return fmt.Sprintf("TryReserve(16) gave %d bytes", len(b)), nil
				}
				r.Commit()
			}
			return plain(err)
		}},
		{"Read", func(ctx context.Context) (string, error) {
			n, err := r.Read(ctx, buf)
			return checkN("Read", n, len(buf)), err
		}},
		{"TryRead", func(context.Context) (string, error) {
			n, _, err := r.TryRead(buf)
			return checkN("TryRead", n, len(buf)), err
		}},
		{"Peek", func(ctx context.Context) (string, error) {
			rec, err := r.Peek(ctx)
			if err != nil {
				return plain(err)
			}
			w := recCheck("Peek", rec)
			r.Discard()
			return w, nil
		}},
		{"TryPeek", func(context.Context) (string, error) {
			rec, ok, err := r.TryPeek()
			if ok {
				w := recCheck("TryPeek", rec)
				r.Discard()
				return w, err
			}
			return plain(err)
		}},
		{"TryPeekQuick", func(context.Context) (string, error) {
			rec, ok, err := ringx.ConsumerOf(r).TryPeekQuick()
			if ok {
				w := recCheck("TryPeekQuick", rec)
				r.Discard()
				return w, err
			}
			return plain(err)
		}},
		{"ReadBatch", func(ctx context.Context) (string, error) {
			w := ""
			_, err := r.ReadBatch(ctx, func(rec []byte) bool { w = recCheck("ReadBatch", rec); return w == "" })
			return w, err
		}},
		{"TryReadBatch", func(context.Context) (string, error) {
			w := ""
			_, err := r.TryReadBatch(func(rec []byte) bool { w = recCheck("TryReadBatch", rec); return w == "" })
			return w, err
		}},
		{"Len", func(context.Context) (string, error) { return checkN("Len", r.Len(), r.Cap()), nil }},
		{"Sane", func(context.Context) (string, error) { return plain(ringx.Sane(r)) }},
		{"Rescue", func(context.Context) (string, error) { return plain(ringx.ConsumerOf(r).Rescue()) }},
		{"CloseWrite", func(context.Context) (string, error) { return plain(r.CloseWrite()) }},
		{"CloseRead", func(context.Context) (string, error) { return plain(r.CloseRead()) }},
		{"Close", func(context.Context) (string, error) { return plain(r.Close()) }},
		{"AcquireConsumer", func(ctx context.Context) (string, error) {
			err := r.AcquireConsumer(ctx)
			if err == nil {
				r.ReleaseConsumer()
			}
			return plain(err)
		}},
		{"AttachConsumer", func(context.Context) (string, error) { return plain(r.AttachConsumer()) }},
		{"AttachProducer", func(context.Context) (string, error) { return plain(r.AttachProducer()) }},
		{"Flush", func(context.Context) (string, error) {
			if s, ok := r.(*ringbuf.SPSC); ok {
				s.Flush()
			}
			return "", nil
		}},
		{"Cancel", func(context.Context) (string, error) {
			if _, ok, err := r.TryReserve(16); !ok {
				return plain(err)
			}
			r.Cancel()
			return "", nil
		}},
	}
	return ops
}

func createSPSC(seg *shm.Segment) error {
	r, err := ringbuf.NewSPSC(seg, "o", ringCap)
	if err != nil {
		return err
	}
	return prefill(r)
}

func openSPSC(_, seg2 *shm.Segment) ([]op, error) {
	r, err := ringbuf.OpenSPSC(seg2, "o")
	if err != nil {
		return nil, err
	}
	ops := vringOps(r)
	ops = append(ops,
		op{"PeekBatch", func(ctx context.Context) (string, error) {
			b, err := r.PeekBatch(ctx)
			if err != nil {
				return plain(err)
			}
			w := ""
			for rec, ok := b.Next(); ok && w == ""; rec, ok = b.Next() {
				w = checkN("PeekBatch record length", len(rec), r.MaxRecord())
			}
			r.DiscardBatch()
			return w, nil
		}},
		op{"TryPeekBatch", func(context.Context) (string, error) {
			b, ok, err := r.TryPeekBatch()
			if !ok {
				return plain(err)
			}
			w := ""
			for rec, ok := b.Next(); ok && w == ""; rec, ok = b.Next() {
				w = checkN("TryPeekBatch record length", len(rec), r.MaxRecord())
			}
			r.DiscardBatch()
			return w, err
		}},
	)
	return ops, nil
}

func createMPSC(seg *shm.Segment) error {
	r, err := ringbuf.NewMPSC(seg, "o", ringCap)
	if err != nil {
		return err
	}
	return prefill(r)
}

func openMPSC(_, seg2 *shm.Segment) ([]op, error) {
	r, err := ringbuf.OpenMPSC(seg2, "o")
	if err != nil {
		return nil, err
	}
	return vringOps(r), nil
}

// MPMC: Vyukov's ring of fixed-size slots.

const slotBytes = 64

func createMPMC(seg *shm.Segment) error {
	r, err := ringbuf.NewMPMC(seg, "o", 8, slotBytes)
	if err != nil {
		return err
	}
	for _, m := range []string{"one", "two"} {
		if err := r.Put(context.Background(), []byte(m)); err != nil {
			return err
		}
	}
	return nil
}

func openMPMC(_, seg2 *shm.Segment) ([]op, error) {
	r, err := ringbuf.OpenMPMC(seg2, "o")
	if err != nil {
		return nil, err
	}
	buf := make([]byte, slotBytes)
	msgCheck := func(what string, msg []byte) string { return checkN(what+" length", len(msg), r.SlotBytes()) }
	return []op{
		{"Put", func(ctx context.Context) (string, error) { return plain(r.Put(ctx, []byte("three"))) }},
		{"Get", func(ctx context.Context) (string, error) {
			n, err := r.Get(ctx, buf)
			return checkN("Get", n, len(buf)), err
		}},
		{"PutFunc", func(ctx context.Context) (string, error) {
			return plain(r.PutFunc(ctx, func(slot []byte) int { return copy(slot, "four") }))
		}},
		{"GetFunc", func(ctx context.Context) (string, error) {
			w := ""
			err := r.GetFunc(ctx, func(msg []byte) { w = msgCheck("GetFunc", msg) })
			return w, err
		}},
		{"TryPut", func(context.Context) (string, error) { _, err := r.TryPut([]byte("five")); return plain(err) }},
		{"TryGet", func(context.Context) (string, error) {
			n, _, err := r.TryGet(buf)
			return checkN("TryGet", n, len(buf)), err
		}},
		{"TryPutFunc", func(context.Context) (string, error) {
			_, err := r.TryPutFunc(func(slot []byte) int { return copy(slot, "six") })
			return plain(err)
		}},
		{"TryGetFunc", func(context.Context) (string, error) {
			w := ""
			_, err := r.TryGetFunc(func(msg []byte) { w = msgCheck("TryGetFunc", msg) })
			return w, err
		}},
		{"Len", func(context.Context) (string, error) { return checkN("Len", r.Len(), r.Cap()), nil }},
		{"Sane", func(context.Context) (string, error) { return plain(ringx.Sane(r)) }},
		{"RescueEmpty", func(context.Context) (string, error) { _, err := ringx.MPMCOf(r).RescueEmpty(); return plain(err) }},
		{"RescueFull", func(context.Context) (string, error) { _, err := ringx.MPMCOf(r).RescueFull(); return plain(err) }},
		{"Outstanding", func(context.Context) (string, error) {
			return checkN("Outstanding", ringx.MPMCOf(r).Outstanding(), 2*r.Cap()+256), nil
		}},
		{"Bytes", func(context.Context) (string, error) {
			return checkN("Bytes", int(ringx.MPMCOf(r).Bytes()), r.Cap()*r.SlotBytes()), nil
		}},
		{"Close", func(context.Context) (string, error) { return plain(r.Close()) }},
		{"AttachProducer", func(context.Context) (string, error) { return plain(r.AttachProducer()) }},
		{"AttachConsumer", func(context.Context) (string, error) { return plain(r.AttachConsumer()) }},
	}, nil
}

// Queue and Joinable: a codec over an MPMC ring.

func queueOptions() queue.Options[string] { return queue.Options[string]{MaxSize: 8, MaxMessage: 64} }

func createQueue(seg *shm.Segment) error {
	q, err := queue.Create(seg, "o", queueOptions())
	if err != nil {
		return err
	}
	return q.Put(context.Background(), "hello")
}

func queueOps(q *queue.Queue[string]) []op {
	return []op{
		{"Put", func(ctx context.Context) (string, error) { return plain(q.Put(ctx, "world")) }},
		{"Get", func(ctx context.Context) (string, error) { _, err := q.Get(ctx); return plain(err) }},
		{"GetInto", func(ctx context.Context) (string, error) { var s string; return plain(q.GetInto(ctx, &s)) }},
		{"TryPut", func(context.Context) (string, error) { _, err := q.TryPut("again"); return plain(err) }},
		{"TryGet", func(context.Context) (string, error) { _, _, err := q.TryGet(); return plain(err) }},
		{"Len", func(context.Context) (string, error) { return checkN("Len", q.Len(), q.Cap()), nil }},
		{"Empty", func(context.Context) (string, error) { q.Empty(); return "", nil }},
		{"Full", func(context.Context) (string, error) { q.Full(); return "", nil }},
		{"IsShutdown", func(context.Context) (string, error) { q.IsShutdown(); return "", nil }},
		{"Shutdown", func(context.Context) (string, error) { return plain(q.Shutdown()) }},
		{"Close", func(context.Context) (string, error) { return plain(q.Close()) }},
	}
}

func openQueue(_, seg2 *shm.Segment) ([]op, error) {
	q, err := queue.Open(seg2, "o", queueOptions())
	if err != nil {
		return nil, err
	}
	return queueOps(q), nil
}

// A queue whose messages past 16 bytes go out of line, in its arena (the
// arena's metadata and pages are two more objects of the segment).

func largeQueueOptions() queue.Options[string] {
	return queue.Options[string]{MaxSize: 8, SlotSize: 16, MaxMessage: 4 << 10}
}

func createLargeQueue(seg *shm.Segment) error {
	q, err := queue.Create(seg, "o", largeQueueOptions())
	if err != nil {
		return err
	}
	return q.Put(context.Background(), strings.Repeat("large ", 300))
}

func openLargeQueue(_, seg2 *shm.Segment) ([]op, error) {
	q, err := queue.Open(seg2, "o", largeQueueOptions())
	if err != nil {
		return nil, err
	}
	return append(queueOps(q),
		op{"PutLarge", func(ctx context.Context) (string, error) { return plain(q.Put(ctx, strings.Repeat("big ", 700))) }},
		op{"GetFunc", func(ctx context.Context) (string, error) {
			return plain(q.GetFunc(ctx, func(msg []byte) error { _ = len(msg); return nil }))
		}},
	), nil
}

func createJoinable(seg *shm.Segment) error {
	q, err := queue.CreateJoinable(seg, "o", queueOptions())
	if err != nil {
		return err
	}
	return q.Put(context.Background(), "task")
}

func openJoinable(_, seg2 *shm.Segment) ([]op, error) {
	j, err := queue.OpenJoinable(seg2, "o", queueOptions())
	if err != nil {
		return nil, err
	}
	return append(queueOps(j.Queue),
		op{"TaskDone", func(context.Context) (string, error) { return plain(j.TaskDone()) }},
		op{"Join", func(ctx context.Context) (string, error) { return plain(j.Join(ctx)) }},
		op{"Unfinished", func(context.Context) (string, error) { j.Unfinished(); return "", nil }},
	), nil
}

// Pipe: two SPSC rings; the trial's handle is end 1, which end 0 (the
// creator's) sent a message.

func pipeOptions() pipe.Options[string] { return pipe.Options[string]{Capacity: ringCap} }

func createPipe(seg *shm.Segment) error {
	c0, _, err := pipe.Create(seg, "o", pipeOptions())
	if err != nil {
		return err
	}
	return c0.Send(context.Background(), "hello")
}

func openPipe(_, seg2 *shm.Segment) ([]op, error) {
	c, err := pipe.Open(seg2, "o", 1, pipeOptions())
	if err != nil {
		return nil, err
	}
	return []op{
		{"Recv", func(ctx context.Context) (string, error) { _, err := c.Recv(ctx); return plain(err) }},
		{"RecvInto", func(ctx context.Context) (string, error) { var s string; return plain(c.RecvInto(ctx, &s)) }},
		{"RecvBytes", func(ctx context.Context) (string, error) { _, err := c.RecvBytes(ctx); return plain(err) }},
		{"Poll", func(ctx context.Context) (string, error) { _, err := c.Poll(ctx); return plain(err) }},
		{"Peek", func(ctx context.Context) (string, error) {
			_, err := c.Peek(ctx)
			if err == nil {
				c.Discard()
			}
			return plain(err)
		}},
		{"Send", func(ctx context.Context) (string, error) { return plain(c.Send(ctx, "back")) }},
		{"SendBytes", func(ctx context.Context) (string, error) { return plain(c.SendBytes(ctx, []byte("back"))) }},
		{"Close", func(context.Context) (string, error) { return plain(c.Close()) }},
	}, nil
}
