// Package pipe is Python's multiprocessing.Pipe for Go processes on Linux:
// two connected ends, *Conn, that send typed values, bytes or a byte stream
// to each other through POSIX shared memory.
//
//	parent, child, err := pipe.New(pipe.Options[string]{}) // Pipe(duplex=True)
//	defer parent.Close()
//	p, err := worker.Start(ctx, child)                     // the end travels as a handle
//	child.Close()                                          // this process's copy only
//	err = parent.Send(ctx, "hello")
//	msg, err := parent.Recv(ctx)                           // io.EOF once the peer closed
//	for msg, err := range parent.All(ctx) { ... }          // Recvs until io.EOF
//
// # Layout
//
// A pipe is a control block (shm.KindPipe) and one single-producer
// single-consumer ring per direction (two for a duplex pipe, one for a
// one-way pipe). Send reserves a record in the ring, has the codec encode
// in place and commits it; Recv decodes the record in place and frees it.
// Peek and Discard hand out the record's bytes in shared memory with no
// copy at all.
//
// A message larger than a ring record (about Options.Capacity/2), up to
// Options.MaxMessage (64 MiB by default for New; over it ErrTooLarge), is
// encoded into a block of the pipe's arena, a sparse region of the pipe's
// segment whose pages are reserved as messages use them, and the ring
// carries a reference to it; Recv, RecvBytes, Read and Peek/Discard work
// the same for it (Peek returns the block's bytes in place). A Send that
// finds the arena full waits for the receiver's Discards.
//
// # Ends, Close and death
//
// The control block records, for each end, the process holding it (its
// creator, until a worker decodes the end from its arguments) and whether
// it is closed. Close is Python's Connection.close: by the end's holder,
// it makes the peer's Recv return what is left and then io.EOF, and its
// Send io.ErrClosedPipe; on a copy whose end was handed to a worker, it
// drops this process's copy and leaves the worker's end open, as closing
// an inherited descriptor does. Either way it unmaps what the handle alone
// used, and is safe in a defer. A call waiting on a peer whose
// process has exited without closing returns ErrPeerDead (checked every
// 50 ms), not a hang.
//
// # Blocking
//
// A Send to a full ring and a Recv from an empty one spin briefly (on a
// load or two, for as long as past waits showed that it pays), then park
// on a futex word of the control block; the other side wakes them only if
// they sleep. Parked goroutines do not pin OS threads. Every blocking call
// honours its context; Read and Write (io.Reader, io.Writer) block without
// one. Ready never blocks: it is that probe, for a goroutine that serves
// many pipes in turn.
//
// One goroutine sends and one receives at a time on each Conn (concurrent
// callers are serialised). A Conn must not be copied.
package pipe
