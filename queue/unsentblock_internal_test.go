package queue

import "testing"

// TestUnsentBlockWakesProducers: a Put of a large message places it in
// the arena before it looks for room, and one that then finds none (here
// a TryPut held back by MaxBytes, which counts the block) frees the block
// unsent. That is room for the producers waiting for MaxBytes, which
// counts the arena's bytes, or for the arena itself (placeWait), all on
// notFull, and the free notified nobody: they slept on until a Get or
// their poll, 50 ms later. The sleeper is the sleep bit of notFull, set
// by hand; the wake is that bit cleared.
func TestUnsentBlockWakesProducers(t *testing.T) {
	q, err := New(Options[[]byte]{MaxSize: 8, SlotSize: 64, MaxMessage: 64 << 10, MaxBytes: 48 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if ok, err := q.TryPut(make([]byte, 32)); !ok || err != nil { // not empty: MaxBytes binds
		t.Fatalf("TryPut of a small message: %v, %v", ok, err)
	}
	seq := q.ctl.notFull.Seq
	asleep := seq.Load() | 1
	seq.Store(asleep) // a producer asleep for MaxBytes or the arena
	if ok, err := q.TryPut(make([]byte, 60<<10)); ok || err != nil {
		t.Fatalf("TryPut of a large message past MaxBytes: %v, %v; want no room", ok, err)
	}
	if used := q.arenaUsed(); used != 0 {
		t.Fatalf("%d bytes of the arena in use after the TryPut, want its block freed", used)
	}
	if seq.Load() == asleep {
		t.Error("a Put freed its placed block unsent and woke no producer")
	}
}
