// Package corrupt holds the corruption campaign of principle 3 ("never
// trust the other side"): random writes of 1 to 8 bytes into the header,
// control words and data of every kind of shared object (the segment's
// header and directory, Value, Array, Mutex, RWMutex, Semaphore, Event,
// Cond, Barrier, the SPSC and MPSC rings, the MPMC ring, Queue, Joinable
// queue and Pipe), before or after a second handle attaches, followed by
// one operation of that kind in a child process (the test binary run
// again). Every operation either returns (an error or a result that keeps
// its contract) or gives up when its short context ends; a panic, a crash
// (a signal, or an exit without a clean error) or a hang (a child that
// does not answer within the watchdog's time, then killed with SIGKILL) is
// a fault to fix.
//
// Operations that wait have context forms, and the campaign calls those:
// a wait on a state the corruption made look "held by a live process",
// "full" or "empty" is then a clean outcome when it ends with its context.
// The plain forms documented to wait as long as a live holder holds
// (value.Value.Store, array.Array.Set, ReadAt, WriteAt, Lock) and the
// pipe's io.Reader and io.Writer (which, as a socket's, wait without a
// context) are not called.
//
// The campaign is a test: TestCorruptionCampaign runs a short one (a
// thousand trials, three hundred under -short) of one fixed seed, so that
// a plain go test passes or fails the same way every time;
// SHMKIT_CORRUPT=N runs N trials of a fresh seed, SEED replays a run, and
// each fault is reported with its trial's kind, offsets, bytes and
// operation. The package has no API.
package corrupt
