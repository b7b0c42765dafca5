// Package bridge carries a shmkit queue beyond one host through NATS
// JetStream: on each host, processes use a local shared-memory
// queue.Queue at memory speed, and a bridge moves its messages to and
// from a JetStream stream with work-queue retention, so that producers on
// one host and consumers on several others share one logical queue.
//
//	nc, err := nats.Connect("nats://nats.example:4222", nats.UserCredentials("app.creds"))
//	js, err := jetstream.New(nc)
//	_, err = js.CreateOrUpdateStream(ctx, bridge.StreamConfig("TASKS"))
//
//	// producing host: its processes put into q; Send publishes
//	err = bridge.Send(ctx, js, q, bridge.Options[Task]{Stream: "TASKS"})
//
//	// each consuming host: Receive puts into its own q; its processes get
//	err = bridge.Receive(ctx, js, q, bridge.Options[Task]{Stream: "TASKS"})
//
// Send and Receive run until their context is done. The configuration is
// a NATS connection the caller makes, with nats.go's options (URLs,
// credentials, TLS, reconnects); nothing here starts a server.
//
// # Guarantees
//
// Send: a message put in the local queue reaches the stream at least
// once, whichever instant the bridge process is killed at. It leaves the
// queue only into a journal in shared memory (an object beside the queue
// in its segment, which outlives the bridge), is published under a message
// id (Nats-Msg-Id) taken from the journal, and leaves the journal once
// JetStream has acknowledged it; a Send restarted after a crash
// publishes the journal's messages again under the same ids, and the
// stream drops a copy that arrives within its duplicate window
// (StreamConfig: two minutes). The one kill that duplicates a message
// under two ids falls between the journal's copy and the queue's release
// of the slot, a few instructions: the queue hands that message to the
// next Get again.
//
// Receive: a message is acknowledged to JetStream only after the local
// Put has succeeded, so none is lost; a Receive killed between a Put and
// its acknowledgement reaching the server makes JetStream deliver that
// message again after AckWait, and a local queue gets it twice.
//
// So the logical queue delivers every message at least once, and exactly
// once when no bridge dies. docs/bridge.md has the topology, each kill
// point and what it costs, and the figures.
//
// Order: messages reach the stream in the local queue's order, except those
// published again after a failure; several receiving hosts interleave.
//
// # Pools and managers across hosts
//
// A pool function registered with Remote runs on the pools of every host
// that serves a task stream (TaskStreamConfig, ServeTasks): RemoteFunc.Map
// publishes a call's chunks to it, each host runs the chunks it takes on
// its local pool and sends the results back, and acknowledges a chunk only
// then; a host that dies has its chunks run again on another after
// AckWait, and the caller keeps each chunk's first result.
//
// A manager's server is reached from other hosts through NATS
// request-reply: ServeManager (or ManagerServer, for manager.Start's
// WithServer) serves it on a subject; RegisterManagerDialer and
// DialManager give a process on another host a Manager whose proxies
// behave as local ones, through "nats:<subject>" addresses. NATS
// authentication stands in for Python's authkey; a server that dies makes
// the calls waiting on it return manager.ErrPeerDead.
package bridge
