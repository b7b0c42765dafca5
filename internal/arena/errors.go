package arena

import (
	"errors"

	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrCorrupt means the arena's metadata or a block reference holds
	// garbage. It is shm.ErrCorrupt.
	ErrCorrupt = shm.ErrCorrupt
	// ErrNoSpace means /dev/shm (or the memory behind a memfd) could not
	// back a block's pages. It is shm.ErrNoSpace.
	ErrNoSpace = shm.ErrNoSpace
	// ErrStale means a block reference names a block that has been freed
	// since: its holder finished with it.
	ErrStale = errors.New("arena: stale block reference")
)
