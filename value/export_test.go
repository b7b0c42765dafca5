package value

import "context"

// BeginWriteForTest takes the lock and marks a write in progress, as Store
// does before it copies: a crash test kills the process holding it there.
func (v *Value[T]) BeginWriteForTest() error {
	if err := v.c.LockContext(context.Background()); err != nil {
		return err
	}
	v.c.BeginWrite()
	return nil
}
