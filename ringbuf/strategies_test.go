package ringbuf_test

import "github.com/shmkit/shmkit/atomics"

var strategies = []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield}
