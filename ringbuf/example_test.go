package ringbuf_test

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

// exampleSegment creates a segment for one example; the caller unlinks it.
func exampleSegment(name string) *shm.Segment {
	seg, err := shm.Create("ringbuf-example-"+name+"-"+strconv.Itoa(os.Getpid()), 1<<20)
	if err != nil {
		panic(err)
	}
	return seg
}

func ExampleSPSC() {
	seg := exampleSegment("spsc")
	defer seg.Unlink()
	ctx := context.Background()

	r, err := ringbuf.NewSPSC(seg, "events", 4096)
	if err != nil {
		panic(err)
	}
	r.Write(ctx, []byte("hello"))
	r.Write(ctx, []byte("world"))
	r.CloseWrite() // the consumer gets io.EOF once the ring is drained

	buf := make([]byte, r.MaxRecord())
	for {
		n, err := r.Read(ctx, buf)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Printf("%s\n", buf[:n])
	}
	// Output:
	// hello
	// world
	// EOF
}

// Reserve and Commit write a record in place; Peek and Discard read it in
// place: no copy on either side.
func ExampleSPSC_Reserve() {
	seg := exampleSegment("reserve")
	defer seg.Unlink()
	ctx := context.Background()
	r, _ := ringbuf.NewSPSC(seg, "r", 4096)

	buf, err := r.Reserve(ctx, 5)
	if err != nil {
		panic(err)
	}
	copy(buf, "in pl")
	r.Commit()

	rec, _ := r.Peek(ctx)
	fmt.Printf("%s ace, %d bytes\n", rec, len(rec))
	r.Discard()

	_, err = r.Reserve(ctx, r.MaxRecord()+1)
	fmt.Println(err)
	// Output:
	// in pl ace, 5 bytes
	// ringbuf: record too large: record of 2041 bytes, ring "r" takes at most 2040 (capacity/2 - 8)
}

// ReadBatch hands over every ready record, publishing the freed space once.
func ExampleSPSC_ReadBatch() {
	seg := exampleSegment("batch")
	defer seg.Unlink()
	r, _ := ringbuf.NewSPSC(seg, "r", 4096)
	for i := 0; i < 5; i++ {
		r.TryWrite([]byte(strconv.Itoa(i)))
	}
	n, _ := r.ReadBatch(context.Background(), func(rec []byte) bool {
		fmt.Print(string(rec), " ")
		return true
	})
	fmt.Println("-", n, "records")
	// Output: 0 1 2 3 4 - 5 records
}

// Producers in many processes, one consumer.
// PeekBatch hands over a Batch, a run of records to walk in place;
// DiscardBatch frees the ones Next returned.
func ExampleBatch() {
	seg := exampleSegment("peekbatch")
	defer seg.Unlink()
	r, _ := ringbuf.NewSPSC(seg, "events", 4096)
	for _, s := range []string{"a", "bb", "ccc"} {
		r.Write(context.Background(), []byte(s))
	}
	b, err := r.PeekBatch(context.Background())
	if err != nil {
		panic(err)
	}
	for rec, ok := b.Next(); ok; rec, ok = b.Next() {
		fmt.Printf("%s ", rec)
	}
	r.DiscardBatch()
	fmt.Println(r.Len())
	// Output: a bb ccc 0
}

func ExampleMPSC() {
	seg := exampleSegment("mpsc")
	defer seg.Unlink()
	ctx := context.Background()
	m, _ := ringbuf.NewMPSC(seg, "log", 4096, ringbuf.WithProducers(8))

	// Each producing handle takes a producer slot; here two in one process.
	a, _ := ringbuf.OpenMPSC(seg, "log")
	b, _ := ringbuf.OpenMPSC(seg, "log")
	a.Write(ctx, []byte("from a"))
	b.Write(ctx, []byte("from b"))
	a.Close()
	b.Close()

	buf := make([]byte, 64)
	for {
		n, err := m.Read(ctx, buf)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(string(buf[:n]))
	}
	// Output:
	// from a
	// from b
	// EOF
}

// A producer with several records at hand claims room for all of them at
// once and publishes them together.
func ExampleMPSC_WriteBatch() {
	seg := exampleSegment("mpsc-batch")
	defer seg.Unlink()
	ctx := context.Background()
	m, _ := ringbuf.NewMPSC(seg, "log", 4096)
	p, _ := ringbuf.OpenMPSC(seg, "log")
	recs := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	for len(recs) > 0 {
		n, err := p.WriteBatch(ctx, recs) // as many as fit now, at least one
		if err != nil {
			fmt.Println(err)
			return
		}
		recs = recs[n:]
	}
	p.Close()
	m.ReadBatch(ctx, func(rec []byte) bool {
		fmt.Println(string(rec))
		return true
	})
	// Output:
	// one
	// two
	// three
}

// Fixed-size slots for many producers and many consumers.
func ExampleMPMC() {
	seg := exampleSegment("mpmc")
	defer seg.Unlink()
	ctx := context.Background()
	q, _ := ringbuf.NewMPMC(seg, "jobs", 8, 32) // 8 slots of 32 bytes

	q.Put(ctx, []byte("job 1"))
	q.PutFunc(ctx, func(slot []byte) int { return copy(slot, "job 2, built in place") })

	buf := make([]byte, q.SlotBytes())
	n, _ := q.Get(ctx, buf)
	fmt.Println(string(buf[:n]))
	q.GetFunc(ctx, func(msg []byte) { fmt.Println(string(msg)) })
	ok, _ := q.TryPut(make([]byte, 33))
	_, err := q.TryPut(make([]byte, 33))
	fmt.Println(ok, err)
	// Output:
	// job 1
	// job 2, built in place
	// false ringbuf: record too large: message of 33 bytes, ring "jobs" slots hold 32
}

// PutBatch claims slots for a run of messages with one CAS and publishes
// each as it is written; GetBatchFunc takes every message there is, up to
// its bound, with one CAS, in place.
func ExampleMPMC_PutBatch() {
	seg := exampleSegment("mpmc-batch")
	defer seg.Unlink()
	ctx := context.Background()
	q, _ := ringbuf.NewMPMC(seg, "jobs", 4, 32) // 4 slots of 32 bytes

	jobs := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")}
	n, _ := q.PutBatch(ctx, jobs) // as many as fit now: 4
	fmt.Println("put", n)
	for range 2 {
		got, _ := q.GetBatchFunc(ctx, 3, func(msg []byte) { fmt.Print(string(msg), " ") })
		fmt.Println("got", got)
	}
	// Output:
	// put 4
	// a b c got 3
	// d got 1
}
