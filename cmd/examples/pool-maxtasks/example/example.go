// Package example is the pool-maxtasks program (see ../main.go for what it
// does and the Python it follows), importable so that the shmkit binary
// runs it in its tour. It runs pool-map's program with maxtasksperchild.
package example

import poolmap "github.com/shmkit/shmkit/cmd/examples/pool-map/example"

// Main runs the program: main calls it after process.Main.
func Main() {
	poolmap.Run(1, 2)
}
