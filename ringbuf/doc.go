// Package ringbuf is shmkit's engine: lock-free rings in shared memory that
// move messages between processes without a syscall on the fast path.
//
// Three rings, each an object in a shm.Segment, created by name and opened
// by name (or received as a handle by a worker process):
//
//   - SPSC (NewSPSC, OpenSPSC): one producer, one consumer, variable-length
//     byte records. Lamport's ring with cached indices: the producer keeps a
//     private copy of the head and the consumer one of the tail, so that
//     each reads the other's index only when its copy says full or empty.
//   - MPSC (NewMPSC, OpenMPSC): many producers in any processes, one
//     consumer, variable-length records; producers claim space with a CAS
//     on the tail (Agrona's ManyToOneRingBuffer), for one record or, with
//     WriteBatch, a run of them published by one store.
//   - MPMC (NewMPMC, OpenMPMC): many producers, many consumers, fixed-size
//     slots; Vyukov's bounded MPMC queue with a sequence number per slot.
//     PutBatch and GetBatchFunc claim a run of slots with one CAS (LMAX
//     Disruptor's batch claim) and publish or free each slot with a plain
//     store, waking the other side once per run.
//
// Records of the variable-length rings are committed Agrona's way: the
// header's length is stored negative when space is claimed and positive when
// the record is committed; a padding record fills the end of the data area
// when a record does not fit before the wrap, or puts a payload of 2 KiB or
// more on a cache line. An SPSC producer then publishes its committed
// records with one store of the tail, so that its consumer never sees a
// record in progress; MPSC consumers read the headers.
//
// # Zero copy
//
// Producers write in place with Reserve (the bytes inside the ring) and
// Commit; consumers read in place with Peek and Discard, or ReadBatch, which
// hands over every ready record and publishes the freed space once per
// quarter ring; an SPSC consumer of small records walks a run of them with
// PeekBatch, Batch.Next and DiscardBatch, without a call per record. Write,
// TryWrite, Read and TryRead copy. MPMC offers PutFunc and GetFunc for
// in-place access, and Put/Get to copy. Calls that find room or data do not
// allocate. WithWriteBatch makes an SPSC producer publish its
// records once per so many bytes (and at SPSC.Flush), as a bufio.Writer
// does.
//
// # Who may call what
//
// An SPSC has one producer and one consumer: at most one goroutine at a time
// calls the producer methods (Reserve, TryReserve, Commit, Cancel, Write,
// TryWrite, CloseWrite) and one the consumer methods (Peek, TryPeek,
// Discard, Read, TryRead, ReadBatch, TryReadBatch, PeekBatch, TryPeekBatch,
// DiscardBatch, CloseRead), in this process or another. A second live
// process that tries to produce (or to consume) gets ErrBusy. An MPSC has one
// consumer, in the same sense, and any number of producers: each producing
// handle takes one of the ring's producer slots (WithProducers, at most
// MaxProducers) and serialises its own goroutines from Reserve to Commit;
// open a handle per goroutine to produce in parallel. Its CloseWrite may come
// from any goroutine: a Write or Reserve of the handle that waits for room
// then returns ErrClosed. On an MPMC every handle takes one participant
// slot; it serialises its own Puts and its own Gets. A call serialised
// behind another goroutine's call that waits for the ring (a Get on an
// empty MPMC ring, a Put or Write on a full one) gives up when its own
// context ends, and a Try call behind it reports nothing now (ok false)
// rather than waiting with it.
//
// A ring handle must not be copied. It travels to a worker process inside
// the worker's arguments (package process): it implements GobEncode and
// GobDecode (segment handle, ring name and kind; decoding attaches the
// segment with shm.Attach and re-checks the ring's header). Close says a
// handle is done; a decoded handle's Close also drops that attachment.
//
// # Limits
//
// Capacity is a power of two: MinCapacity..MaxCapacity bytes of data for
// SPSC and MPSC, 2..MaxCapacity slots for MPMC. The largest record of a
// variable-length ring is MaxRecord(capacity) = capacity/2 - 8 bytes (an
// 8-byte header precedes each record, records are 8-byte aligned), so a
// 1 MiB record needs a ring of at least 4 MiB; a longer record is
// ErrTooLarge, naming the limit. Zero-length records work. An MPMC message
// is at most its slot size (MaxSlotBytes).
//
// # Blocking
//
// Write, Reserve, Read, Peek, ReadBatch, Put and Get block while the ring is
// full or empty, honouring their context. Each handle waits its own way
// (WithStrategy, SetOptions): atomics.Park, the default, re-checks the ring
// for a while (WithSpin; longer, up to 16 times, while the gaps it waits
// through are shorter than that, so that a steady stream does not pay a
// futex wake per gap), then
// parks on a futex through atomics.Await, which holds at most one OS thread
// per process per ring side, whatever the number of parked goroutines; atomics.Spin busy-polls (one core per waiter, no
// syscall); atomics.Yield polls and yields. Waiters register in a waiter
// count beside the futex word, and a publisher makes the wake syscall only
// when the count is not zero: the fast path never enters the kernel.
//
// # Processes die
//
// Producers and consumers record their process identity (PID, start time
// and PID namespace) in the ring when they first produce or consume
// (or AttachProducer/AttachConsumer). While blocked, a call checks its
// peers every poll period (WithPoll, default DefaultPoll); so does a
// consumer's Try call that finds the ring empty, which makes polling an
// empty ring cheap (the look reads /proc) and reports io.EOF at once:
//
//   - A record whose producer died between Reserve and Commit: an SPSC
//     consumer never sees it (a successor producer writes over it); an MPSC
//     consumer recognises it by the producer slot in its header and skips
//     it, and a WriteBatch run whole (its first header holds the run's
//     length until the run is published); so is space an MPSC
//     producer claimed and died before writing any header (the producer
//     slot holds its claim), and an MPMC slot claimed and never filled
//     (the unfilled slots of a PutBatch run; its filled ones are delivered).
//   - A producer facing a full ring whose consumer died gets ErrPeerDead;
//     whose consumer closed its end (CloseRead, Close), ErrClosed. An MPMC
//     slot claimed by a consumer that died keeps its message, and the next
//     live consumer that finds the ring empty delivers it (a GetBatchFunc
//     run's unemptied slots too, in order).
//   - A participant slot of an MPMC ring whose handle died is taken by a
//     new handle once that handle's claims are resolved. A slot it claimed
//     and never filled is given up by the newcomer; messages it claimed
//     and had not given back go with its slot to a new consumer, which
//     delivers them first, or wait for a live consumer to adopt them (as
//     it does when it finds the ring empty). Where every slot is held and
//     one of these is the only kind to take, a blocking call waits for it
//     as it waits for room or data, Try calls report nothing done now,
//     and AttachProducer and AttachConsumer return ErrBusy; a producer
//     whose only slots to take hold messages that no live consumer is left
//     to deliver gets ErrPeerDead.
//   - A process stopped (SIGSTOP) inside an MPMC Put or Get, where it
//     claims alone on its side, holds up another handle's first claim on
//     that side until it goes on or dies: a blocking call waits as it
//     waits for room or data, Try calls report nothing done now.
//   - A consumer facing an empty ring whose producers are all gone gets
//     ErrPeerDead if one of them died, io.EOF if they all closed their end
//     (CloseWrite, Close). "All gone" counts producers that have attached:
//     before the first producer attaches, an empty ring is just empty and
//     the consumer waits. A creator that hands a ring to several producer
//     processes should hold a producer attachment until they have attached
//     (AttachProducer in each, then a signal, then CloseWrite).
//
// A process that dies while consuming loses the record it was reading
// (SPSC/MPSC: the next consumer gets it again, since the head had not
// moved; inside ReadBatch, whose head moves once per quarter ring, the
// next consumer gets again every record the dead one took since the last
// move: up to a quarter ring of records delivered twice; a PeekBatch run
// not yet released, likewise).
// A ring whose header or records hold garbage gives ErrCorrupt:
// every index, length and sequence number read from shared memory is
// checked against the ring's geometry before it is used, so a corrupt or
// hostile peer can never make a call panic or touch memory outside the ring.
//
// # Building on rings
//
// Package queue and package pipe keep their rings as objects of their own
// segment, named after the queue or pipe (for instance "NAME.ring", or one
// SPSC ring per direction of a pipe), and send a ring handle inside their
// own GobEncode. An object that waits on futex words of its own (so that its
// Shutdown or its own bounds can wake its waiters) uses the non-blocking
// calls, TryPutFunc and TryGetFunc on an MPMC ring, TryReserve and TryPeek
// on an SPSC or MPSC ring. Many consumers of variable-length messages use
// MPMC slots of the largest encoded size, or take turns on an MPSC (or
// SPSC) ring's consumer side: AcquireConsumer, Read or Peek/Discard,
// ReleaseConsumer.
//
// Scope: Linux only (futexes, /proc), on little-endian 64-bit machines.
package ringbuf
