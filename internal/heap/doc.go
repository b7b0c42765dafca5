// Package heap is the per-process store of the objects made without a
// segment: value.New, array.New, semaphore.NewMutex and the other short
// forms. It packs many small objects into each of a few anonymous (memfd)
// segments, so that ten thousand Values cost a handful of mappings, not ten
// thousand.
//
// Each process has one heap, which it fills in turn:
//
//   - Alloc places an object in the current segment, under a name the heap
//     makes up (a counter), through shm's Alloc: the object gets the same
//     header, directory entry and publication as a named object, so it
//     travels to a worker as any anonymous segment's object does (its
//     segment's descriptor is passed down, the worker attaches it).
//   - When the current segment is full, a fresh one is made, each bigger
//     than the last up to a cap, and the full one is retired.
//   - An object too large to share a segment gets one of its own.
//
// Memory comes back by segment, never by object: shm segments have no free
// list, and a worker may still use an object this process has closed. Each
// segment counts the Refs this process holds on its objects; a retired
// segment whose count reaches zero is unmapped and its descriptor closed.
// Workers keep their own mapping (and descriptor), so the memory lives as
// long as any process maps it: the kernel's count of mappings is the shared
// reference count, and no count in shared memory is needed (nor could a
// kill tear one). The current segment stays mapped while it has room, even
// with no Ref on it, so that a New/Close loop reuses it rather than making
// a memfd per object; the cost is at most one segment's worth of objects
// that nobody uses.
//
// Large messages on queues and pipes have an allocator of their own (a
// sparse, out-of-line tier with frees from any process); this heap is the
// small-object tier: objects of a few cache lines, allocated and closed by
// one process, reclaimed a segment at a time.
package heap
