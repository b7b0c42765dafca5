package manager

import (
	"fmt"

	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

// Python's manager also hands out queues, locks, events and values, as
// proxies to objects in its server. shmkit's own are shared memory already:
// every process that holds one uses it directly, at memory speed, and its
// handle travels to workers as a proxy's does. The Manager makes them in
// this process, for Python's shape; they need no server and outlive its
// Shutdown.

// nativeSegmentSize is the size of the anonymous segment that holds one
// manager's locks, events, semaphores and values.
const nativeSegmentSize = 1 << 20

// alloc returns the Manager's segment for native objects and a fresh name
// in it.
func (m *Manager) alloc(kind string) (*shm.Segment, string, error) {
	m.nativeMu.Lock()
	defer m.nativeMu.Unlock()
	if m.native == nil {
		seg, err := shm.CreateAnon(nativeSegmentSize)
		if err != nil {
			return nil, "", err
		}
		m.native = seg
	}
	m.nativeN++
	return m.native, fmt.Sprintf("%s-%d", kind, m.nativeN), nil
}

// Lock makes a process-shared lock (Python's manager.Lock()).
func (m *Manager) Lock() (*semaphore.Mutex, error) {
	seg, name, err := m.alloc("lock")
	if err != nil {
		return nil, err
	}
	return semaphore.NewMutex(seg, name)
}

// Event makes a process-shared event (Python's manager.Event()).
func (m *Manager) Event() (*semaphore.Event, error) {
	seg, name, err := m.alloc("event")
	if err != nil {
		return nil, err
	}
	return semaphore.NewEvent(seg, name)
}

// Semaphore makes a process-shared semaphore with n permits (Python's
// manager.Semaphore(n)).
func (m *Manager) Semaphore(n int) (*semaphore.Semaphore, error) {
	seg, name, err := m.alloc("semaphore")
	if err != nil {
		return nil, err
	}
	return semaphore.NewSemaphore(seg, name, n)
}

// NewValue makes a process-shared typed cell holding init (Python's
// manager.Value(typecode, init)); T is fixed-size and pointer-free.
func NewValue[T any](m *Manager, init T) (*value.Value[T], error) {
	seg, name, err := m.alloc("value")
	if err != nil {
		return nil, err
	}
	return value.Create(seg, name, init)
}

// NewQueue makes a process-shared queue (Python's manager.Queue()).
func NewQueue[T any](m *Manager, o queue.Options[T]) (*queue.Queue[T], error) {
	return queue.New(o)
}
