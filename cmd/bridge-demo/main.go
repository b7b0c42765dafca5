// Command bridge-demo shares one queue between hosts through a NATS
// JetStream server: on the producing host, worker processes put numbers
// into a local shared-memory queue and package bridge's Send publishes
// them; on each consuming host, Receive puts them into that host's own
// queue and worker processes get and add them up.
//
//	nats-server -js -sd /var/tmp/js                              # the server
//	bridge-demo -nats nats://SERVER:4222 consume                # host B, host C, ...
//	bridge-demo -nats nats://SERVER:4222 produce -n 1000000     # host A
//
// The same binary adds its host's worker processes to a pool of hosts
// (package bridge's ServeTasks), and serves a manager to other hosts
// (ServeManager):
//
//	bridge-demo -nats URL -procs 4 pool-worker          # hosts B, C, ...: workers until Ctrl-C
//	bridge-demo -nats URL -procs 4 -n 100000 pool-map   # host A: Map over every host's workers
//	bridge-demo -nats URL manager-serve                 # host A: a manager and a shared dict
//	bridge-demo -nats URL -n 10000 manager-add          # hosts B, C: atomic adds to the dict
//
// produce ends once its messages are in the stream; consume runs until
// interrupted (Ctrl-C), then prints what its host got. The sums of the
// consuming hosts add up to produce's. A produce killed, interrupted or
// failed mid-way and run again finds its journal beside its queue (the
// segment stays in -dir) and publishes the messages it held first, under
// their ids.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/bridge"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/queue"
	"github.com/shmkit/shmkit/shm"
)

type share struct {
	Q           *queue.Queue[uint64]
	From, Count uint64
}

var producer = process.Register("bridge-demo-producer", func(ctx context.Context, a share) error {
	defer a.Q.Close()
	for v := a.From; v < a.From+a.Count; v++ {
		if err := a.Q.Put(ctx, v); err != nil {
			return err
		}
	}
	return nil
})

// consumer gets until the queue is shut down, then writes its count and
// sum to process.File(0).
var consumer = process.Register("bridge-demo-consumer", func(ctx context.Context, q *queue.Queue[uint64]) error {
	defer q.Close()
	var n, sum uint64
	for v, err := range q.All(ctx) {
		if err != nil {
			return err
		}
		n, sum = n+1, sum+v
	}
	_, err := fmt.Fprintf(process.File(0), "%d %d\n", n, sum)
	return err
})

const window = 256

func main() {
	process.Main()
	url := flag.String("nats", nats.DefaultURL, "NATS server URL(s), comma-separated")
	creds := flag.String("creds", "", "NATS credentials file")
	nkey := flag.String("nkey", "", "NATS nkey seed file")
	user := flag.String("user", "", "NATS user (with -password)")
	password := flag.String("password", "", "NATS password")
	subject := flag.String("subject", "shmkit.demo.manager", "subject of manager-serve and manager-add")
	stream := flag.String("stream", "DEMO", "JetStream stream")
	dir := flag.String("dir", "", "shared-memory directory of this host (default /dev/shm)")
	procs := flag.Int("procs", 3, "worker processes")
	n := flag.Uint64("n", 100_000, "messages to produce")
	flag.Parse()
	role := flag.Arg(0)
	if flag.NArg() > 1 { // flags after the role: bridge-demo produce -n 1000000
		flag.CommandLine.Parse(flag.Args()[1:]) // exits on a bad flag
		if flag.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "bridge-demo: unexpected %q\n", flag.Args())
			os.Exit(2)
		}
	}
	// The command line is checked before anything connects or is made.
	roles := []string{"produce", "consume", "pool-worker", "pool-map", "manager-serve", "manager-add"}
	if !slices.Contains(roles, role) {
		fmt.Fprintf(os.Stderr, "bridge-demo: say %s, not %q\n", strings.Join(roles, ", "), role)
		os.Exit(2)
	}
	if *procs < 1 {
		fmt.Fprintf(os.Stderr, "bridge-demo: -procs %d: at least 1 worker process\n", *procs)
		os.Exit(2)
	}
	var opts []nats.Option
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	if *nkey != "" {
		o, err := nats.NkeyOptionFromSeed(*nkey)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bridge-demo:", err)
			os.Exit(1)
		}
		opts = append(opts, o)
	}
	if *user != "" {
		opts = append(opts, nats.UserInfo(*user, *password))
	}
	if err := run(*url, opts, *stream, *subject, *dir, role, *procs, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bridge-demo:", err)
		os.Exit(1)
	}
}

func run(url string, opts []nats.Option, stream, subject, dir, role string, procs int, n uint64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(-1))...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	switch role {
	case "pool-worker":
		return poolWorker(ctx, js, stream+"-POOL", procs)
	case "pool-map":
		return poolMap(ctx, js, stream+"-POOL", procs, n)
	case "manager-serve":
		return managerServe(ctx, nc, subject)
	case "manager-add":
		return managerAdd(ctx, nc, subject, n)
	}
	if _, err := js.CreateOrUpdateStream(ctx, bridge.StreamConfig(stream)); err != nil {
		return err
	}
	name := "bridge-demo-" + role
	q, closeQueue, err := hostQueue(dir, name)
	if err != nil {
		return err
	}
	o := bridge.Options[uint64]{Stream: stream, Window: window}
	switch role {
	case "produce":
		err = produce(ctx, js, q, o, procs, n)
	case "consume":
		err = consume(ctx, js, q, o, procs)
	default:
		err = fmt.Errorf("say produce, consume, pool-worker, pool-map, manager-serve or manager-add, not %q", role)
	}
	closeQueue(err == nil)
	if err != nil {
		return fmt.Errorf("%w (segment %s kept, queue and journal, for the next run)", err, name)
	}
	return nil
}

// hostQueue opens this host's queue, or makes it (a segment with room for
// the queue and Send's journal). closeQueue closes it, and unlinks it when
// the run ended well; a run that failed, was interrupted or crashed leaves
// it, journal included, for the next.
func hostQueue(dir, name string) (q *queue.Queue[uint64], closeQueue func(unlink bool), err error) {
	var so []shm.Option
	if dir != "" {
		so = append(so, shm.WithDir(dir))
	}
	seg, err := shm.Open(name, so...)
	if errors.Is(err, shm.ErrNotExist) {
		seg, err = shm.Create(name, 4096*128+bridge.JournalSize(window, 8)+1<<20, so...)
	}
	if err != nil {
		return nil, nil, err
	}
	o := queue.Options[uint64]{MaxSize: 4096}
	q, err = queue.Open(seg, "q", o)
	if errors.Is(err, shm.ErrNotExist) {
		q, err = queue.Create(seg, "q", o)
	}
	if err != nil {
		seg.Close()
		return nil, nil, err
	}
	return q, func(unlink bool) {
		q.Close()
		if unlink {
			seg.Unlink()
		}
		seg.Close()
	}, nil
}

func produce(ctx context.Context, js jetstream.JetStream, q *queue.Queue[uint64], o bridge.Options[uint64], procs int, n uint64) error {
	per := n / uint64(procs)
	var ps []*process.Process
	for i := range uint64(procs) {
		count := per
		if i == uint64(procs)-1 {
			count = n - per*i
		}
		p, err := producer.Start(ctx, share{Q: q, From: i * per, Count: count})
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	sctx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	sent := make(chan error, 1)
	go func() { sent <- bridge.Send(sctx, js, q, o) }()
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			// Send works in the queue's memory: it must have returned
			// before the segment is unmapped.
			stopSend()
			<-sent
			return err
		}
	}
	q.Shutdown() // Send drains the queue, then returns
	if err := <-sent; err != nil {
		return err
	}
	fmt.Printf("produced %d messages, sum %d\n", n, n*(n-1)/2)
	return nil
}

func consume(ctx context.Context, js jetstream.JetStream, q *queue.Queue[uint64], o bridge.Options[uint64], procs int) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	var ps []*process.Process
	for range procs {
		p, err := consumer.Start(context.WithoutCancel(ctx), q, process.WithFiles(w))
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	w.Close()
	fmt.Println("receiving; Ctrl-C ends")
	if err := bridge.Receive(ctx, js, q, o); err != nil {
		return err
	}
	q.Shutdown() // the consumers get what is left, then report
	var got, sum uint64
	for range procs {
		var c, s uint64
		if _, err := fmt.Fscan(r, &c, &s); err != nil {
			return err
		}
		got += c
		sum += s
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			return err
		}
	}
	fmt.Printf("consumed %d messages, sum %d\n", got, sum)
	return nil
}
