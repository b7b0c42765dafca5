package atomics

import "errors"

var (
	// ErrTimeout is returned by Wait when its timeout ran out.
	ErrTimeout = errors.New("atomics: wait timed out")
	// ErrMisaligned is returned when a word's offset is not a multiple of its size.
	ErrMisaligned = errors.New("atomics: misaligned word")
	// ErrOutOfRange is returned when a word does not fit inside the mapping.
	ErrOutOfRange = errors.New("atomics: word out of range")
)
