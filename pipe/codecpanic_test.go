package pipe_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/pipe"
)

// sized is a value of a given encoded size whose codec may panic on it:
// a user's codec with a bug, whose panic the caller recovers.
type sized struct {
	V     int64
	Size  int
	Panic bool
}

type panicky struct{}

func (panicky) Size(v *sized) int { return v.Size }

func (panicky) Append(dst []byte, v *sized) ([]byte, error) {
	if v.Panic {
		panic("codec bug")
	}
	b := append(dst, make([]byte, v.Size)...)
	binary.LittleEndian.PutUint64(b[len(dst):], uint64(v.V))
	return b, nil
}

func (panicky) Decode(src []byte, v *sized) error {
	*v = sized{V: int64(binary.LittleEndian.Uint64(src)), Size: len(src)}
	if v.V < 0 {
		panic("codec bug") // a value sent negative stands for one Decode panics on
	}
	return nil
}

// panickyPipe makes a pipe of sized values with the panicky codec: rings
// of 4 KiB and an arena for messages up to 64 KiB.
func panickyPipe(t *testing.T) (a, b *pipe.Conn[sized], ctx context.Context) {
	a, b, err := pipe.New(pipe.Options[sized]{Capacity: 4096, MaxMessage: 64 << 10, Codec: panicky{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	t.Cleanup(cancel)
	return a, b, ctx
}

// panics runs f and reports whether it panicked.
func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// TestSendCodecPanicLeavesPipeWorking: a codec's panic inside Send goes
// to the caller, and the pipe goes on: the ring room the Send had
// reserved is given back, and a large message's arena block is freed
// (else a few panics fill the arena and every later large Send waits for
// ever); the messages sent after it arrive, each once.
func TestSendCodecPanicLeavesPipeWorking(t *testing.T) {
	a, b, ctx := panickyPipe(t)
	for i := range 64 { // round the ring of 4 KiB many times, and the arena of 4 × 64 KiB
		for _, size := range []int{1024, 48 << 10} {
			if !panics(func() { a.Send(ctx, sized{Size: size, Panic: true}) }) {
				t.Fatalf("Send %d of %d bytes that its codec panics on did not panic", i, size)
			}
			if err := a.Send(ctx, sized{V: int64(i), Size: size}); err != nil {
				t.Fatalf("Send %d of %d bytes after a panic: %v", i, size, err)
			}
			if v, err := b.Recv(ctx); err != nil || v.V != int64(i) || v.Size != size {
				t.Fatalf("Recv %d = %+v, %v; want V %d of %d bytes", i, v, err, i, size)
			}
		}
	}
}

// TestRecvCodecPanicConsumesTheMessage: a codec's panic inside Recv goes
// to the caller and consumes the message it panicked on, as a decoding
// error does (and as Python's recv, which has read the bytes before it
// unpickles them); the next Recv gets the message after it.
func TestRecvCodecPanicConsumesTheMessage(t *testing.T) {
	a, b, ctx := panickyPipe(t)
	for i := range 16 {
		for _, size := range []int{1024, 48 << 10} {
			if err := a.Send(ctx, sized{V: -1, Size: size}); err != nil {
				t.Fatal(err)
			}
			if err := a.Send(ctx, sized{V: int64(i), Size: size}); err != nil {
				t.Fatal(err)
			}
			if !panics(func() { b.Recv(ctx) }) {
				t.Fatalf("Recv %d of %d bytes that its codec panics on did not panic", i, size)
			}
			v, err := func() (v sized, err error) {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("panicked: %v", p)
					}
				}()
				return b.Recv(ctx)
			}()
			if err != nil || v.V != int64(i) || v.Size != size {
				t.Fatalf("Recv %d after a panic = %+v, %v; want V %d of %d bytes", i, v, err, i, size)
			}
		}
	}
}
