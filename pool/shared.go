package pool

import (
	"context"
	"fmt"
)

// sharedTask is a zero-copy chunk: a range of indexes of arrays in shared
// memory (not yet implemented).
type sharedTask struct{}

func decodeSharedTask([]byte) (sharedTask, error) {
	return sharedTask{}, fmt.Errorf("pool: shared tasks are not supported")
}

type sharedCache struct{}

func (sharedCache) close() {}

func (f *Func[In, Out]) runShared(ctx context.Context, ws *workerState, h header, st sharedTask) error {
	return fmt.Errorf("pool: shared tasks are not supported")
}
