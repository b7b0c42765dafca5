package pipe_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/pipe"
	"github.com/shmkit/shmkit/ringbuf"
)

// TestSmallRingLargeMessage: a pipe whose ring records are smaller than
// an arena reference (Capacity 64: 24-byte records) cannot carry a
// message out of line. New must refuse it, or every message up to
// Options.MaxMessage must arrive. A refusal says what is wrong with the
// capacity, as a capacity outside the ring's range does (ErrInvalid). Before, New made it, and a send of 100
// bytes (MaxMessage 1000) failed with ErrTooLarge for "a message of 31
// bytes, the limit is 24 (Options.MaxMessage)".
func TestSmallRingLargeMessage(t *testing.T) {
	ctx := ctxT(t)
	for _, capacity := range []int{64, 128} {
		a, b, err := pipe.New(pipe.Options[[]byte]{Capacity: capacity, MaxMessage: 1000})
		if err != nil {
			// Refused, as a capacity outside the ring's range is.
			if !errors.Is(err, ringbuf.ErrInvalid) {
				t.Errorf("Capacity %d: New: %v, want ringbuf.ErrInvalid", capacity, err)
			}
			continue
		}
		msg := bytes.Repeat([]byte{7}, 100)
		if err := b.SendBytes(ctx, msg); err != nil {
			t.Errorf("Capacity %d, MaxMessage 1000: SendBytes of %d bytes: %v", capacity, len(msg), err)
		} else if got, err := a.RecvBytes(ctx); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("Capacity %d: RecvBytes = %d bytes, %v", capacity, len(got), err)
		}
		a.Close()
		b.Close()
	}
}
