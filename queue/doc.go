// Package queue is Python's multiprocessing.Queue, SimpleQueue and
// JoinableQueue for Go processes on Linux: a FIFO of typed values in POSIX
// shared memory that many producer and consumer processes (and any number
// of their goroutines) use at once. The numbers are bounded: at most 64
// handles put or get at a time (the ring has a participant slot for each
// handle, freed when the handle is closed or its process dies; one more
// gets an error matching ringbuf.ErrBusy), and the tables that tell a
// waiter its peers have died hold 32 processes each. Past 32 holders the
// queue works on, but a waiter no longer concludes the other side is gone:
// it waits, as in Python. A process that closed its handle but runs on
// still counts as a possible peer.
//
//	q, err := queue.New(queue.Options[Task]{})           // Python's Queue()
//	defer q.Close()                                      // this process is done with q
//	p, err := worker.Start(ctx, Args{Tasks: q})          // travels as a handle
//	err = q.Put(ctx, Task{A: 2, B: 3})                   // blocks while full
//	t, err := q.Get(ctx)                                 // blocks while empty
//	for t, err := range q.All(ctx) { ... }               // Gets until shut down and drained
//	q.Shutdown()                                         // the poison pill, for everyone
//
// # Layout and algorithm
//
// A queue is two objects in a segment: a control block (shm.KindQueue) and
// a ringbuf MPMC ring of fixed-size slots (Vyukov's bounded
// MPMC queue, one slot per message, sized to Options.SlotSize). A Put
// claims a slot, has the codec encode the value straight into it (the
// binary codec copies the value's bytes; nothing is allocated) and
// publishes it; a Get claims the oldest filled slot, decodes in place and
// frees it. A message larger than a slot (up to Options.MaxMessage, 64 MiB
// by default for New) is encoded into a block of the queue's arena, pages
// of the queue's own segment reserved as messages need them
// (internal/arena), and its slot carries a reference; GetFunc reads a
// message of any size in place. The ring is lock-free; the control block adds what Python's
// queue has on top of a ring: the bounds, Shutdown, the unfinished-task
// count and the two wait events.
//
// # Blocking
//
// A Put on a full queue and a Get on an empty one spin briefly (on a load
// or two, for as long as past waits showed that it pays), then park
// on a futex word of the control block (one for "not full", one for "not
// empty"), counted so that the other side makes the wake syscall only when
// somebody sleeps. Parked goroutines do not pin OS threads (atomics.Await keeps one sleeper per
// process and word). Every blocking call honours its context.
//
// # Processes that die
//
// Every process that creates, opens or decodes a queue records itself in
// its attached table; every process that puts, in its producer table; every
// process that gets, in its consumer table (PID and start time). A Get
// waiting on an empty queue returns ErrPeerDead when producers have come
// and all have exited (or died) and no live holder of the queue could still
// put (every live one has only got); a Put waiting on a full queue likewise
// for consumers. Waiters check every 50 ms, after letting the ring skip a
// slot claimed by a producer killed mid-Put. A queue nobody has produced to
// yet, or one still held by a process that has not acted, just waits, as in
// Python.
//
// # Close and Shutdown
//
// Close is Python's q.close(): this handle is done. It unmaps what the
// handle alone used (the anonymous segment of a queue made by New, the
// mapping a worker's decoded handle attached) and leaves the queue to every
// other holder, so a worker's defer q.Close() is always right. Shutdown is
// Python's q.shutdown() (3.13): the queue ends for every process: Puts
// fail with ErrShutdown, Gets return what is left and then ErrShutdown (an
// All loop ends), and waiters wake. One Shutdown replaces one poison pill
// per consumer.
//
// # Codecs
//
// Values are encoded by a codec.Codec[T]: codec.Binary for fixed-size,
// pointer-free T (the default for such T), codec.Gob for anything else (the
// default, as pickle is Python's), codec.Bytes, codec.String, or a codec of
// your own (see package codec). The codec's name is part of the queue's
// type fingerprint: opening a queue with another T or codec fails with
// shm.ErrIncompatible. A message longer than MaxMessage is ErrTooLarge.
//
// # Large messages
//
// A queue made by New takes messages of up to 64 MiB (Options.MaxMessage):
// one that fits a slot (256 bytes unless Options.SlotSize says otherwise)
// travels in it, a larger one in a block of the queue's arena, a sparse
// region of its segment whose pages are reserved when a block first covers
// them (ErrNoSpace, not a crash, when /dev/shm is full) and kept for the
// next messages; memory grows with what is queued at once, not with the
// limit. A Put that finds the arena full waits, as on a full ring. A
// producer killed holding a block it has not sent gives the block back
// when a survivor's wait next checks for dead peers. MaxBytes counts the
// blocks' bytes (whole pages). A queue made by Create in a segment of the
// caller's keeps slot-sized messages unless MaxMessage asks for more.
//
// A *Queue is safe for concurrent use and must not be copied. SimpleQueue
// is a Queue; JoinableQueue is Joinable.
package queue
