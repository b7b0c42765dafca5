// Package arena is shmkit's shared-memory allocator: blocks of whole
// pages allocated and freed by any process that maps the segment the
// arena lives in, for the messages of a queue or a pipe that do not fit
// its ring. Linux only.
//
// An arena is two objects of one segment: its metadata (ordinary,
// reserved memory) and its pages, a sparse object at the end of a segment
// made with shm.WithSparse. tmpfs and memfd files are sparse: the file's
// size reserves nothing, and mapping it costs nothing until a page is
// written (TestSparseCostsNothing makes an arena of four times the
// machine's memory). The arena reserves a block's pages when it allocates
// the block (madvise MADV_POPULATE_WRITE: a full /dev/shm is ErrNoSpace
// there, never a SIGBUS at the write), keeps freed pages reserved for the
// next blocks, and gives them back (MADV_REMOVE) past a high-water mark.
// So memory grows with use, not with the arena's size, and a stream of
// large messages reuses the same pages without a page fault per message.
//
// Allocation is first fit over a bitmap of pages under one process-shared
// lock, whose word holds the holder's procinfo word: a process that finds
// the holder dead takes the lock over and rebuilds the bitmap from the
// block records, which are the truth. Each record's owner word says who
// answers for the block: the allocating process (Reclaim frees the block
// once that process is dead), "queued" (a message in a ring carries its
// reference: whoever takes the message frees it), or a reader (a reader
// that dies leaves the block to the process that adopts its message, as
// a ring's dead consumer's claim is adopted).
//
// Every offset and length read from shared memory is checked: a corrupt
// record or reference is ErrCorrupt, never a panic or an access out of
// range (FuzzMetadata, FuzzDecodeRef). See docs/arena.md and layout.go.
//
// An *Arena is safe for concurrent use by the goroutines of a process
// and by any number of processes.
package arena
