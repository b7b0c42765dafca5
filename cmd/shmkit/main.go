// Command shmkit inspects and cleans up shmkit shared-memory segments, and
// tours the example programs.
//
//	shmkit ls                 list every shmkit segment in /dev/shm
//	shmkit stat NAME          show a segment's header and object directory
//	shmkit rm NAME...         unlink segments
//	shmkit gc [--dry-run]     unlink segments whose creator has died
//	shmkit tour [EXAMPLE...]  run the example programs (cmd/examples), built into shmkit
//	shmkit help               this text
//
// The segment commands take --dir DIR to look somewhere other than /dev/shm.
// Flags may come before or after names; "--" ends them (rm -- --odd-name).
// ls and stat take --json for programs: one JSON document, names exact.
//
// In text output a segment or object name is printed as it is when it
// holds only printing characters other than spaces and does not start with
// a double quote; any other name is printed Go-quoted (strconv.Quote), so
// that a name holding a newline or a tab cannot forge lines or columns.
// Segment names are file names: they may hold anything but '/' and NUL.
//
// Exit status: 0 on success, 1 when an operation failed, 2 on bad usage.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

const usage = `shmkit: inspect and clean up shmkit shared-memory segments

usage:
  shmkit ls [--dir DIR] [--json]        list every shmkit segment
  shmkit stat [--dir DIR] [--json] NAME show a segment's header and object directory
  shmkit rm [--dir DIR] NAME...         unlink segments (shmkit segments only)
  shmkit gc [--dir DIR] [--dry-run]     unlink segments whose creator has died
  shmkit tour [--list] [EXAMPLE...]     run the example programs (cmd/examples)
  shmkit help                           this text

Segments live in /dev/shm unless --dir says otherwise. Flags may follow
names; "--" ends the flags. Names that hold spaces, quotes or control
characters are printed Go-quoted; --json prints them exactly.

A creator's STATE is alive, dead, or other-ns: it runs in another PID
namespace (another container), where this one cannot tell whether it still
runs; gc leaves such segments alone.
`

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // an operation failed
	exitUsage = 2 // bad command line
)

func main() {
	process.Main()   // an example's worker, when the tour's example started this copy as one
	runTourExample() // one example of the tour, when the tour started this copy for it
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a bad command line; run prints the usage hint for it.
var errUsage = errors.New("bad usage")

// run executes one shmkit command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmds := map[string]func([]string, io.Writer) error{
		"ls": cmdLs, "stat": cmdStat, "rm": cmdRm, "gc": cmdGc, "tour": cmdTour,
	}
	name, rest := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "shmkit: unknown command %q\nRun 'shmkit help' for usage.\n", name)
		return exitUsage
	}
	err := cmd(rest, stdout)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, shm.ErrInvalidName):
		fmt.Fprintf(stderr, "shmkit %s: %v\nRun 'shmkit help' for usage.\n", name, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "shmkit %s: %v\n", name, err)
		return exitFail
	}
}

// parse parses a subcommand's flags wherever they stand among its names,
// and returns the names. "--" ends the flags: everything after it is a
// name. Errors come back marked errUsage.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(names, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			names = append(names, a)
			continue
		}
		// One flag, with its value if it takes the next argument.
		one := args[i : i+1]
		if name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "="); !hasValue && i+1 < len(args) {
			if f := fs.Lookup(name); f != nil && !isBool(f) {
				one = args[i : i+2]
				i++
			}
		}
		if err := fs.Parse(one); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return names, nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// quote returns name as text output prints it: as it is when it holds only
// printing characters other than spaces and does not start with '"', else
// Go-quoted. A quoted name is thus never mistaken for a plain one.
func quote(name string) string {
	if name == "" || name[0] == '"' {
		return strconv.Quote(name)
	}
	for _, r := range name {
		if r == unicode.ReplacementChar || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return strconv.Quote(name)
		}
	}
	return name
}

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", shm.DefaultDir, "directory holding the segments")
}

func cmdLs(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	dir := dirFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: ls takes no arguments, got %q", errUsage, names)
	}
	infos, err := shm.List(shm.WithDir(*dir))
	if err != nil {
		return err
	}
	if *asJSON {
		list := make([]segmentJSON, 0, len(infos))
		for _, in := range infos {
			list = append(list, segmentOf(in))
		}
		return writeJSON(out, list)
	}
	if len(infos) == 0 {
		fmt.Fprintf(out, "no shmkit segments in %s\n", *dir)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSIZE\tOBJECTS\tCREATOR\tSTATE\tAGE")
	now := time.Now()
	for _, in := range infos {
		if in.Err != nil {
			fmt.Fprintf(tw, "%s\t?\t%s\t-\t-\tcorrupt\t-\t(%s)\n", quote(in.Name), byteSize(in.Size), oneLine(in.Err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", quote(in.Name), segKind(in.Kind), byteSize(in.Size),
			in.Objects, in.CreatorPID, state(in), age(now.Sub(in.Created)))
	}
	return tw.Flush()
}

func cmdStat(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stat", flag.ContinueOnError)
	dir := dirFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return fmt.Errorf("%w: stat takes one segment name, got %d", errUsage, len(names))
	}
	seg, err := shm.Open(names[0], shm.WithDir(*dir), shm.ReadOnly())
	if err != nil {
		return err
	}
	defer seg.Close()
	in := seg.Info()
	if *asJSON {
		doc := statJSON{segmentJSON: segmentOf(in), Directory: []objectJSON{}}
		for _, o := range seg.Objects() {
			doc.Directory = append(doc.Directory, objectOf(o))
		}
		return writeJSON(out, doc)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", quote(in.Name))
	fmt.Fprintf(tw, "path:\t%s\n", quote(in.Path))
	fmt.Fprintf(tw, "kind:\t%s (layout version %d)\n", segKind(in.Kind), in.Version)
	fmt.Fprintf(tw, "size:\t%d bytes (%s), object area %d bytes from offset %d\n", in.Size, byteSize(in.Size), in.DataSize, in.DataOffset)
	fmt.Fprintf(tw, "creator:\tpid %d, start %d ticks, PID namespace %d, %s\n", in.CreatorPID, in.CreatorStart, in.CreatorNS, state(in))
	fmt.Fprintf(tw, "created:\t%s (%s ago)\n", in.Created.Format(time.RFC3339), age(time.Since(in.Created)))
	fmt.Fprintf(tw, "objects:\t%d of %d directory entries\n", in.Objects, in.DirCap)
	if err := tw.Flush(); err != nil {
		return err
	}
	objs := seg.Objects()
	if len(objs) == 0 {
		return nil
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tKIND\tVERSION\tTYPE\tCAPACITY\tBODY\tOFFSET")
	for _, o := range objs {
		if o.Err != nil {
			fmt.Fprintf(tw, "%s\t?\t-\t-\t-\t-\t%d\t(%s)\n", quote(o.Name), o.Offset, oneLine(o.Err))
			continue
		}
		h := o.Header
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\n", quote(o.Name), h.Kind, h.Version, typeString(h.Type), h.Capacity, h.BodySize, o.Offset)
	}
	return tw.Flush()
}

func cmdRm(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rm", flag.ContinueOnError)
	dir := dirFlag(fs)
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: rm needs at least one segment name", errUsage)
	}
	var errs []error
	for _, name := range names {
		// Only shmkit segments: a corrupt one may go, and one of another
		// build's layout (its creator cannot be judged, so gc leaves it),
		// a stranger's file not.
		if _, err := shm.Stat(name, shm.WithDir(*dir)); err != nil && !errors.Is(err, shm.ErrCorrupt) && !errors.Is(err, shm.ErrOtherVersion) {
			if errors.Is(err, shm.ErrIncompatible) {
				err = fmt.Errorf("%w; left alone", err)
			}
			errs = append(errs, err)
			continue
		}
		if err := shm.Unlink(name, shm.WithDir(*dir)); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "removed %s\n", quote(name))
	}
	return errors.Join(errs...)
}

func cmdGc(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	dir := dirFlag(fs)
	dry := fs.Bool("dry-run", false, "list what would be removed, remove nothing")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: gc takes no arguments, got %q", errUsage, names)
	}
	got, err := shm.Collect(*dry, shm.WithDir(*dir))
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	failed := 0
	for _, c := range got {
		switch {
		case c.Err != nil:
			failed++
			fmt.Fprintf(out, "could not remove %s (%s, %s): %s\n", quote(c.Name), c.Reason, byteSize(c.Size), oneLine(c.Err))
		case c.Removed:
			fmt.Fprintf(out, "%s %s (%s, %s)\n", verb, quote(c.Name), c.Reason, byteSize(c.Size))
		default:
			fmt.Fprintf(out, "left %s alone: %s\n", quote(c.Name), c.Reason)
		}
	}
	if err != nil && failed > 0 {
		return fmt.Errorf("%d segment(s) could not be removed", failed)
	}
	if err != nil {
		return err // the directory could not be listed
	}
	if len(got) == 0 {
		fmt.Fprintf(out, "nothing to collect in %s\n", *dir)
	}
	return nil
}

func segKind(k shm.Kind) string {
	if k == shm.KindSegment {
		return "segment"
	}
	return k.String()
}

func state(in shm.Info) string {
	switch {
	case in.Err != nil:
		return "corrupt"
	case in.CreatorElsewhere:
		return "other-ns"
	case in.CreatorAlive:
		return "alive"
	}
	return "dead"
}

// oneLine prints err on one line: a path in it may hold a newline.
func oneLine(err error) string {
	q := strconv.Quote(err.Error())
	return q[1 : len(q)-1]
}

// segmentJSON is a segment as ls --json and stat --json print it.
type segmentJSON struct {
	Name         string    `json:"name"`
	Path         string    `json:"path"`
	Kind         string    `json:"kind"`
	Version      int       `json:"version"`
	Size         int64     `json:"size"`
	DataSize     int64     `json:"dataSize"`
	DataOffset   int64     `json:"dataOffset"`
	Objects      int       `json:"objects"`
	DirCap       int       `json:"dirCap"`
	CreatorPID   int       `json:"creatorPid"`
	CreatorStart uint64    `json:"creatorStart"`
	CreatorNS    uint64    `json:"creatorPidNamespace"`
	State        string    `json:"state"` // alive, dead, other-ns or corrupt
	Created      time.Time `json:"created"`
	Error        string    `json:"error,omitempty"`
}

func segmentOf(in shm.Info) segmentJSON {
	j := segmentJSON{Name: in.Name, Path: in.Path, Size: in.Size, State: state(in)}
	if in.Err != nil {
		j.Error = in.Err.Error()
		return j
	}
	j.Kind, j.Version, j.DataSize, j.DataOffset = segKind(in.Kind), in.Version, in.DataSize, in.DataOffset
	j.Objects, j.DirCap, j.Created = in.Objects, in.DirCap, in.Created
	j.CreatorPID, j.CreatorStart, j.CreatorNS = in.CreatorPID, in.CreatorStart, in.CreatorNS
	return j
}

// statJSON is stat --json's document: the segment and its directory.
type statJSON struct {
	segmentJSON
	Directory []objectJSON `json:"directory"`
}

type objectJSON struct {
	Name     string `json:"name"`
	Offset   int64  `json:"offset"`
	Kind     string `json:"kind,omitempty"`
	Version  uint16 `json:"version,omitempty"`
	Type     string `json:"type,omitempty"`
	Capacity uint64 `json:"capacity,omitempty"`
	Body     uint64 `json:"body,omitempty"`
	Error    string `json:"error,omitempty"`
}

func objectOf(o shm.ObjectInfo) objectJSON {
	j := objectJSON{Name: o.Name, Offset: o.Offset}
	if o.Err != nil {
		j.Error = o.Err.Error()
		return j
	}
	h := o.Header
	j.Kind, j.Version, j.Type, j.Capacity, j.Body = h.Kind.String(), h.Version, typeString(h.Type), h.Capacity, h.BodySize
	return j
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func typeString(t shm.TypeID) string {
	if t == (shm.TypeID{}) {
		return "bytes"
	}
	return fmt.Sprintf("%dB/align%d/%016x", t.Size, t.Align, t.Hash)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < time.Hour:
		return d.Truncate(time.Minute).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
