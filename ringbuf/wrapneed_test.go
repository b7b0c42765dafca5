package ringbuf_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestWriteBatchWaitsForWrapRoom: an MPSC WriteBatch whose first record
// must wrap (padding to the end of the data, then the record) and finds
// room for the record but not for the padding too waits for room as any
// write does: registered as a waiter, parked. It must not take the room
// it wants for the record alone, find it free at every look, and look
// again at once, a busy loop until the consumer frees the rest.
func TestWriteBatchWaitsForWrapRoom(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := ringbuf.NewMPSC(seg, "r", 256)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := ringbuf.OpenMPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 10*time.Second)) // a failure guard: a correct WriteBatch parks in microseconds
	defer cancel()
	small := bytes.Repeat([]byte{'s'}, 40) // 48 bytes a record
	for range 5 {                          // tail 240: 16 bytes to the end
		if err := p.Write(ctx, small); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 256)
	for range 2 { // head 96: 112 bytes free
		if _, err := c.Read(ctx, buf); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{'b'}, 96) // 104 bytes, after 16 of padding: 120
	done := make(chan error, 1)
	go func() {
		_, err := p.WriteBatch(ctx, [][]byte{big})
		done <- err
	}()
	for !ringbuf.ProducerWaiting(p) {
		if ctx.Err() != nil {
			t.Fatal("WriteBatch never waited for room: it looked in a loop")
		}
		runtime.Gosched() // polling a condition, not synchronising on time
	}
	for range 3 {
		n, err := c.Read(ctx, buf)
		if err != nil || !bytes.Equal(buf[:n], small) {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	n, err := c.Read(ctx, buf)
	if err != nil || !bytes.Equal(buf[:n], big) {
		t.Fatalf("Read = %d bytes, %v; want the batch's record", n, err)
	}
	if err := ringbuf.Sane(c); err != nil {
		t.Fatal(err)
	}
}
