package bridge

import (
	"errors"

	"github.com/shmkit/shmkit/shm"
)

var (
	// ErrBusy is returned by Send when another live process is sending
	// from the same queue with the same journal: a journal has one writer.
	ErrBusy = errors.New("bridge: journal in use by another live process")
	// ErrCorrupt means a journal's shared memory holds garbage. It is
	// shm.ErrCorrupt.
	ErrCorrupt = shm.ErrCorrupt
)
