package pipe

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
)

// postedOffer returns an offer slot of l that is ready, or nil.
func postedOffer[T any](l *Listener[T]) []byte {
	for i := range offerSlots {
		slot := l.body[lisOffers+i*offerSize : lisOffers+(i+1)*offerSize]
		if atomics.MustUint32At(slot, offerReady).Load() == 1 {
			return slot
		}
	}
	return nil
}

// awaitOffer returns the slot of an offer posted to l once there is one:
// the dialer bumps seq after it marks its offer ready.
func awaitOffer[T any](t *testing.T, ctx context.Context, l *Listener[T]) []byte {
	t.Helper()
	for {
		old := l.seq.Load()
		if slot := postedOffer(l); slot != nil {
			return slot
		}
		if err := atomics.Await(ctx, l.seq, old, nil); err != nil {
			t.Fatalf("no dialer posted an offer: %v", err)
		}
	}
}

// leftovers lists the segments in /dev/shm whose names start with prefix
// (the external tests have it as Leftovers).
func leftovers(t *testing.T, prefix string) []string {
	t.Helper()
	infos, err := shm.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range infos {
		if strings.HasPrefix(i.Name, prefix) {
			out = append(out, i.Name)
		}
	}
	return out
}

// TestCloseWakesPostedDialer: a Dial whose offer is posted, waiting on its
// accept word, returns ErrRefused on the listener's Close, without a
// liveness poll: Close woke only the listener's sequence word, and such a
// dialer saw the close at its next poll (50 ms). A poll that comes after
// the Close began waits for the Close to end and then says whether the
// dialer still depended on it: its accept word still offered.
func TestCloseWakesPostedDialer(t *testing.T) {
	name := shmtest.Name(t)
	l, err := Listen(name, Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	closing, closed := make(chan struct{}), make(chan struct{})
	var word *atomic.Uint32 // the dialer's accept word, set before closing
	var polled atomic.Bool
	testHookDialPoll = func() {
		select {
		case <-closing:
		default:
			return // an ordinary poll, before the Close
		}
		<-closed
		if word.Load() == acceptOffered {
			polled.Store(true) // the Close left it to this poll
		}
	}
	defer func() { testHookDialPoll = nil }()
	done := dialAsync(ctx, name)
	slot := awaitOffer(t, ctx, l)
	seg, err := shm.Open(offerNameOf(slot))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if word, err = acceptWord(seg); err != nil {
		t.Fatal(err)
	}
	close(closing)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	close(closed)
	if err := <-done; !errors.Is(err, ErrRefused) {
		t.Fatalf("Dial with its offer posted when the listener closed = %v, want ErrRefused", err)
	}
	if polled.Load() {
		t.Fatal("the listener's Close left its posted dialer waiting for a liveness poll")
	}
	if left := leftovers(t, name+"."); len(left) != 0 {
		t.Fatalf("left in /dev/shm: %v", left)
	}
}
