package ringbuf

import (
	"runtime"
	"testing"
)

// TestStreamingMPSCConsumerTakesLoneRecord: an MPSC consumer whose reads
// found their records at once is streaming, so its next wait starts with
// a lull (see lull), but a read parked after it gets a lone record written
// later, and a read that waited is no longer streaming.
func TestStreamingMPSCConsumerTakesLoneRecord(t *testing.T) {
	p, c := ringPair(t, "mpsc", nil)
	ctx := ctxForTest(t)
	for i := range 3 {
		if err := p.Write(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 8)
	read := func(want byte) error {
		n, err := c.Read(ctx, buf)
		if err == nil && (n != 1 || buf[0] != want) {
			t.Errorf("Read = %d bytes %v, want [%d]", n, buf[:n], want)
		}
		return err
	}
	if c.c.streaming {
		t.Fatal("a consumer that never read is streaming")
	}
	for i := range 3 {
		if err := read(byte(i)); err != nil {
			t.Fatal(err)
		}
	}
	if !c.c.streaming {
		t.Fatal("reads that found their records at once: not streaming")
	}
	got := make(chan error, 1)
	go func() { got <- read(3) }()
	for c.c.wait.waiters.Load() == 0 { // past its lull and its spin
		if ctx.Err() != nil {
			t.Fatal("Read on an empty ring never parked")
		}
		runtime.Gosched()
	}
	if err := p.Write(ctx, []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("streaming Read of a lone record: %v", err)
	}
	if c.c.streaming {
		t.Fatal("a read that waited left its consumer streaming")
	}
}
