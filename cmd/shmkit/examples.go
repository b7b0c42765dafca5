package main

// The examples the tour runs: every program under cmd/examples, linked into
// this binary. Each example's workers register at initialisation under
// names that start with the example's, so they do not collide here.

import (
	arrayrange "github.com/shmkit/shmkit/cmd/examples/array-range/example"
	managerdict "github.com/shmkit/shmkit/cmd/examples/manager-dict/example"
	managernamespace "github.com/shmkit/shmkit/cmd/examples/manager-namespace/example"
	managerpitfall "github.com/shmkit/shmkit/cmd/examples/manager-pitfall/example"
	managerpool "github.com/shmkit/shmkit/cmd/examples/manager-pool/example"
	managerrecords "github.com/shmkit/shmkit/cmd/examples/manager-records/example"
	pipecount "github.com/shmkit/shmkit/cmd/examples/pipe-count/example"
	pipehello "github.com/shmkit/shmkit/cmd/examples/pipe-hello/example"
	poolmap "github.com/shmkit/shmkit/cmd/examples/pool-map/example"
	poolmaxtasks "github.com/shmkit/shmkit/cmd/examples/pool-maxtasks/example"
	processsquares "github.com/shmkit/shmkit/cmd/examples/process-squares/example"
	queuecount "github.com/shmkit/shmkit/cmd/examples/queue-count/example"
	queuemethod "github.com/shmkit/shmkit/cmd/examples/queue-method/example"
	queuesquares "github.com/shmkit/shmkit/cmd/examples/queue-squares/example"
	queuetasks "github.com/shmkit/shmkit/cmd/examples/queue-tasks/example"
	ringzerocopy "github.com/shmkit/shmkit/cmd/examples/ring-zerocopy/example"
	shmsquares "github.com/shmkit/shmkit/cmd/examples/shm-squares/example"
	syncbarrier "github.com/shmkit/shmkit/cmd/examples/sync-barrier/example"
	synccondition "github.com/shmkit/shmkit/cmd/examples/sync-condition/example"
	syncevent "github.com/shmkit/shmkit/cmd/examples/sync-event/example"
	synclock "github.com/shmkit/shmkit/cmd/examples/sync-lock/example"
	syncsemaphore "github.com/shmkit/shmkit/cmd/examples/sync-semaphore/example"
	valuecounter "github.com/shmkit/shmkit/cmd/examples/value-counter/example"
	valuesquares "github.com/shmkit/shmkit/cmd/examples/value-squares/example"
)

// examples maps each example's name (its directory under cmd/examples) to
// the body of its main.
var examples = map[string]func(){
	"array-range":       arrayrange.Main,
	"manager-dict":      managerdict.Main,
	"manager-namespace": managernamespace.Main,
	"manager-pitfall":   managerpitfall.Main,
	"manager-pool":      managerpool.Main,
	"manager-records":   managerrecords.Main,
	"pipe-count":        pipecount.Main,
	"pipe-hello":        pipehello.Main,
	"pool-map":          poolmap.Main,
	"pool-maxtasks":     poolmaxtasks.Main,
	"process-squares":   processsquares.Main,
	"queue-count":       queuecount.Main,
	"queue-method":      queuemethod.Main,
	"queue-squares":     queuesquares.Main,
	"queue-tasks":       queuetasks.Main,
	"ring-zerocopy":     ringzerocopy.Main,
	"shm-squares":       shmsquares.Main,
	"sync-barrier":      syncbarrier.Main,
	"sync-condition":    synccondition.Main,
	"sync-event":        syncevent.Main,
	"sync-lock":         synclock.Main,
	"sync-semaphore":    syncsemaphore.Main,
	"value-counter":     valuecounter.Main,
	"value-squares":     valuesquares.Main,
}
