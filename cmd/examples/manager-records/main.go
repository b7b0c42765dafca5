// Manager-records is the records example of Python's multiprocessing Manager
// in Go: a list of records in a manager's server, one process inserts a
// record and another prints them all.
//
//	def insert_record(record, records):
//	    records.append(record)
//
//	def print_records(records):
//	    for record in records:
//	        print("Name: {0}\nScore: {1}\n".format(record[0], record[1]))
//
//	with multiprocessing.Manager() as manager:
//	    records = manager.list([(Sam, 10), (Adam, 9), (Kevin,9)])
//	    new_record = (Jeff, 8)
//	    p1 = multiprocessing.Process(target=insert_record, args=(new_record, records))
//	    p2 = multiprocessing.Process(target=print_records, args=(records,))
//
// Output:
//
//	Name: Sam, Score: 10
//	Name: Adam, Score: 9
//	Name: Kevin, Score: 9
//	Name: Jeff, Score: 8
package main

import (
	"github.com/shmkit/shmkit/cmd/examples/manager-records/example"
	"github.com/shmkit/shmkit/process"
)

// The program is in package example, beside this file.
func main() {
	process.Main()
	example.Main()
}
