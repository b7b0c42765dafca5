// Package example is the ring-zerocopy program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "ring-zerocopy." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

const (
	producers = 3
	perWorker = 1000
	recSize   = 16 // producer id, sequence number: two little-endian uint64s
)

type producerArgs struct {
	Ring *ringbuf.MPSC
	ID   uint64
}

// produce writes perWorker records straight into the ring: Reserve hands
// out the record's bytes inside the shared mapping, Commit publishes them.
var produce = process.Register("ring-zerocopy.produce", func(ctx context.Context, a producerArgs) error {
	for seq := uint64(0); seq < perWorker; seq++ {
		rec, err := a.Ring.Reserve(ctx, recSize)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(rec[0:], a.ID)
		binary.LittleEndian.PutUint64(rec[8:], seq)
		a.Ring.Commit()
	}
	return a.Ring.CloseWrite()
})

// Main runs the program: main calls it after process.Main.
func Main() {
	ctx := context.Background()

	seg, err := shm.CreateAnon(256 << 10)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	ring, err := ringbuf.NewMPSC(seg, "records", 64<<10, ringbuf.WithProducers(producers+1))
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()

	// The ring ends its stream when every attached producer has closed its
	// end. Hold a producer attachment of our own until the workers have all
	// exited, so that a fast first worker cannot end the stream before the
	// last one has attached.
	hold, err := ringbuf.OpenMPSC(seg, "records")
	if err != nil {
		log.Fatal(err)
	}
	if err := hold.AttachProducer(); err != nil {
		log.Fatal(err)
	}
	var procs []*process.Process
	for id := range uint64(producers) {
		p, err := produce.Start(ctx, producerArgs{Ring: ring, ID: id})
		if err != nil {
			log.Fatal(err)
		}
		procs = append(procs, p)
	}
	held := make(chan struct{}) // closed once hold has let go: then the segment may go
	go func() {
		defer close(held)
		for _, p := range procs {
			if err := p.Wait(); err != nil {
				log.Fatal(err)
			}
		}
		hold.CloseWrite()
	}()

	var next, sum [producers]uint64
	inOrder := [producers]bool{true, true, true}
	records, bytes := 0, 0
	for {
		// ReadBatch hands over every ready record in place and frees their
		// space in one index update.
		_, err := ring.ReadBatch(ctx, func(rec []byte) bool {
			id, seq := binary.LittleEndian.Uint64(rec[0:]), binary.LittleEndian.Uint64(rec[8:])
			if id >= producers {
				log.Fatalf("record from unknown producer %d", id)
			}
			inOrder[id] = inOrder[id] && seq == next[id]
			next[id] = seq + 1
			sum[id] += seq
			records, bytes = records+1, bytes+len(rec)
			return true
		})
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	// The stream ends inside hold.CloseWrite, before it returns: wait for
	// it, or the deferred seg.Close unmaps the ring under it.
	<-held
	bad := false
	for id := range producers {
		order := "in order"
		if !inOrder[id] || next[id] != perWorker {
			order, bad = "OUT OF ORDER", true
		}
		fmt.Printf("producer %d: %d records %s, sum %d\n", id, next[id], order, sum[id])
	}
	fmt.Printf("%d records, %d bytes, read in place\n", records, bytes)
	if bad { // a self-check that fails must fail the program (the segment is anonymous: nothing is left)
		log.Fatalf("records lost or out of order: want %d from each producer, in order", perWorker)
	}
}
