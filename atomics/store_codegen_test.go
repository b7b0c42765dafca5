//go:build amd64 && !race

package atomics_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// memStore matches a store to memory in the compiler's assembly listing:
// a MOV whose destination (the last operand) is an address.
var memStore = regexp.MustCompile(`\tMOV[LQ]\t[^,]+, [^,]*\(`)

// TestStoreReleaseNotElided: a StoreRelease inlines as a plain store, and
// the compiler's dead-store pass deletes a plain store that a later one
// to the same word follows in the same block with no load between. A
// claim published in three steps (word cleared, the other word set, word
// set: ringbuf's run claims, see claimRange) lost its first store so: a
// reader saw the new end with the old claim, both read twice alike, and
// took them for one claim. The check is the machine code of
// testdata/storethree's Store64 and Store32: three stores each.
func TestStoreReleaseNotElided(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to compile with")
	}
	cmd := exec.Command(goBin, "build", "-gcflags=-S", "-o", os.DevNull, "./testdata/storethree")
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOARCH=amd64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, fn := range []string{"Store64", "Store32"} {
		var body []string
		in := false
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, " STEXT ") {
				in = strings.HasPrefix(line, "github.com/shmkit/shmkit/atomics/testdata/storethree."+fn+" ")
				continue
			}
			if in {
				body = append(body, line)
			}
		}
		if len(body) == 0 {
			t.Fatalf("no assembly for %s in the compiler's listing:\n%s", fn, out)
		}
		stores := 0
		for _, line := range body {
			if memStore.MatchString(line) {
				stores++
			}
		}
		if stores != 3 {
			t.Errorf("%s compiles to %d stores, want 3 (one per StoreRelease):\n%s", fn, stores, strings.Join(body, "\n"))
		}
	}
}
