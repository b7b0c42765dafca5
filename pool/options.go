package pool

import (
	"io"
	"runtime"

	"github.com/shmkit/shmkit/ringbuf"
)

// Option configures Start.
type Option func(*options)

type options struct {
	processes int
	init      *Initializer
	maxTasks  int
	inflight  int
	prefix    string
	retries   int
	buffer    int
	stdout    io.Writer
	stderr    io.Writer

	// onDeath, for tests, sees the chunks a dead worker held (those with
	// results to come), before they are failed or queued again.
	onDeath func(pid int, held []*chunk)
	// onDirect and onCloseWrite, for tests, run when a Submit has taken a
	// worker's token to give it its chunk directly (before it writes), and
	// when a slot has closed its worker's tasks ring for good.
	onDirect, onCloseWrite func()
	// onRequeue, for tests, runs when a dead worker's chunk is about to be
	// queued again (WithRetries).
	onRequeue func()
}

func defaults() options {
	return options{processes: runtime.NumCPU(), inflight: 2, prefix: "PoolWorker", buffer: 1 << 20}
}

// Processes sets the number of worker processes (Python's processes=);
// the default is runtime.NumCPU().
func Processes(n int) Option { return func(o *options) { o.processes = n } }

// WithInitializer makes every worker run init when it starts (Python's
// initializer=).
func WithInitializer(init *Initializer) Option { return func(o *options) { o.init = init } }

// MaxTasksPerChild retires a worker once it has run n chunks of tasks and
// starts a fresh one in its place (Python's maxtasksperchild, which counts
// chunks too); 0, the default, keeps workers for the pool's life.
func MaxTasksPerChild(n int) Option { return func(o *options) { o.maxTasks = n } }

// MaxInFlight bounds the records of tasks given to one worker and not yet
// answered (default 2: one running, one waiting). A record is one chunk of
// a Map or Imap, or up to 256 Submits that were queued together. A worker
// that dies fails at most these.
func MaxInFlight(n int) Option { return func(o *options) { o.inflight = n } }

// WithNamePrefix names the workers PREFIX-1, PREFIX-2, … in the order they
// start (default "PoolWorker"; Python's are ForkPoolWorker-N or
// SpawnPoolWorker-N). A worker sees its name in process.Current().Name.
func WithNamePrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithRetries runs the tasks of a worker that died again, on another worker,
// up to n times, instead of failing them with ErrWorkerDied. Only for tasks
// that may run twice; a MapShared whose out is its in runs none again (see
// there).
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithBufferSize sets the capacity in bytes of each worker's two rings
// (a power of two; default 1 MiB). A chunk of tasks and a record of results
// hold at most a quarter of it (with MaxInFlight 2), and so bound the
// largest input and result.
func WithBufferSize(n int) Option { return func(o *options) { o.buffer = n } }

// WithStdout sends the workers' standard output to w (default: this
// process's). w must be safe for concurrent use: every worker writes to it.
func WithStdout(w io.Writer) Option { return func(o *options) { o.stdout = w } }

// WithStderr sends the workers' standard error to w; see WithStdout.
func WithStderr(w io.Writer) Option { return func(o *options) { o.stderr = w } }

// maxRecord is the largest record either side writes: every record in
// flight fits in the ring at once.
func (o *options) maxRecord() int {
	return min(ringbuf.MaxRecord(o.buffer), o.buffer/(2*o.inflight))
}

// CallOption configures one call (Map, Imap, …).
type CallOption func(*callOptions)

type callOptions struct{ chunksize int }

// Chunksize sets how many tasks travel to a worker together (Python's
// chunksize); the number of inputs or more makes one chunk of them all,
// and 0 or less asks for the default. Map's default follows Python's (the inputs split in four
// chunks per worker), bounded by what one record holds; Imap's and
// ImapUnordered's is 1, as Python's: a larger one trades the latency of the
// first results for throughput.
func Chunksize(n int) CallOption { return func(o *callOptions) { o.chunksize = n } }
