package ringbuf

import (
	"context"
	"testing"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/shm"
)

// holdForKill is a child's last step in the kill tests: it says, through
// the first word of flag, that it got where it is to be killed, and waits
// for that: it never returns (its result makes it a worker's last
// statement).
func holdForKill(flag *shm.Segment) error {
	w := atomics.MustUint32At(flag.Bytes(), 0)
	w.Store(1)
	atomics.Wake(w, -1)
	select {}
}

// awaitChild waits until a child has said so in the first word of flag
// (holdForKill), failing with what and the wait's error if ctx ends first.
func awaitChild(t testing.TB, ctx context.Context, flag *shm.Segment, what string) {
	t.Helper()
	fw := atomics.MustUint32At(flag.Bytes(), 0)
	for fw.Load() == 0 {
		if err := atomics.Await(ctx, fw, 0, nil); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}
