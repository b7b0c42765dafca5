package manager

import (
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/value"
)

// Python's manager also hands out queues, locks, events and values, as
// proxies to objects in its server. shmkit's own are shared memory already:
// every process that holds one uses it directly, at memory speed, and its
// handle travels to workers as a proxy's does. The Manager makes them in
// this process (the short forms of their packages, in this process's heap
// of shared memory), for Python's shape; they need no server and outlive
// its Shutdown. Close gives each up.

// Lock makes a process-shared lock (Python's manager.Lock()).
func (m *Manager) Lock() (*semaphore.Mutex, error) { return semaphore.NewMutex() }

// Event makes a process-shared event (Python's manager.Event()).
func (m *Manager) Event() (*semaphore.Event, error) { return semaphore.NewEvent() }

// Semaphore makes a process-shared semaphore with n permits (Python's
// manager.Semaphore(n)).
func (m *Manager) Semaphore(n int) (*semaphore.Semaphore, error) { return semaphore.NewSemaphore(n) }

// NewValue makes a process-shared typed cell holding init (Python's
// manager.Value(typecode, init)); T is fixed-size and pointer-free.
func NewValue[T any](m *Manager, init T) (*value.Value[T], error) { return value.New(init) }

// NewQueue makes a process-shared queue (Python's manager.Queue()).
func NewQueue[T any](m *Manager, o queue.Options[T]) (*queue.Queue[T], error) {
	return queue.New(o)
}
