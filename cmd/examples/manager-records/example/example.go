// Package example is the manager-records program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "manager-records." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
)

// Record is one name and score.
type Record struct {
	Name  string
	Score int
}

type insertArgs struct {
	Record  Record
	Records *manager.List[Record]
}

var insertRecord = process.Register("manager-records.insert", func(ctx context.Context, a insertArgs) error {
	_, err := a.Records.Append(ctx, a.Record)
	return err
})

var printRecords = process.Register("manager-records.print", func(ctx context.Context, records *manager.List[Record]) error {
	for r, err := range records.All(ctx) {
		if err != nil {
			return err
		}
		fmt.Printf("Name: %s, Score: %d\n", r.Name, r.Score)
	}
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	m, err := manager.Start(ctx)
	if err != nil {
		return err
	}
	defer m.Shutdown()
	records, err := manager.NewList(ctx, m, Record{"Sam", 10}, Record{"Adam", 9}, Record{"Kevin", 9})
	if err != nil {
		return err
	}
	if err := insertRecord.Run(ctx, insertArgs{Record{"Jeff", 8}, records}); err != nil {
		return err
	}
	return printRecords.Run(ctx, records)
}
