package atomics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/shm"
)

// A waiter loops on its condition around Await; the waker changes the word
// first, then calls Wake.
func ExampleAwait() {
	seg, err := shm.CreateAnon(64)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	flag := atomics.MustUint32At(seg.Bytes(), 0)

	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for flag.Load() == 0 {
			if err := atomics.Await(ctx, flag, 0, nil); err != nil {
				panic(err)
			}
		}
		fmt.Println("flag is", flag.Load())
	}()

	flag.Store(1)          // change the word…
	atomics.Wake(flag, -1) // …then wake whoever sleeps on it
	<-done
	// Output:
	// flag is 1
}

// Words at offsets of a mapping are checked for alignment and bounds.
func ExampleUint64At() {
	seg, err := shm.CreateAnon(64)
	if err != nil {
		panic(err)
	}
	defer seg.Close()
	if _, err := atomics.Uint64At(seg.Bytes(), 4); err != nil {
		fmt.Println(err)
	}
	w, _ := atomics.Uint64At(seg.Bytes(), 8)
	w.Add(5)
	fmt.Println(w.Load())
	// Output:
	// atomics: misaligned word: offset 4 is not 8-byte aligned
	// 5
}

// Wait parks the calling thread while a shared word holds a value; Wake
// wakes its sleepers once the word has changed. Here the waker is a
// goroutine; across processes the word lives in a shared segment.
func ExampleWait() {
	mem := make([]byte, 8) // a shared segment's bytes, in real use
	word := atomics.MustUint32At(mem, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for word.Load() == 0 { // wakeups may be spurious: re-check
			if err := atomics.Wait(word, 0, 0); err != nil {
				panic(err)
			}
		}
		fmt.Println("woken, word is", word.Load())
	}()
	word.Store(1)         // change the word first,
	atomics.Wake(word, 1) // then wake: a sleeper that has not slept yet sees 1
	<-done
	// Output: woken, word is 1
}

// Wake returns how many sleepers it woke: none here, so a waker that finds
// nobody asleep pays one syscall and nothing more.
func ExampleWake() {
	word := atomics.MustUint32At(make([]byte, 4), 0)
	word.Store(7)
	fmt.Println(atomics.Wake(word, -1))
	// Output: 0
}

// A blocked call's wait strategy, chosen per handle (ringbuf.WithStrategy,
// the queue's Options.Wait): Park is the default.
func ExampleStrategy() {
	fmt.Println(atomics.Park, atomics.Spin, atomics.Yield)
	// Output: park spin yield
}
