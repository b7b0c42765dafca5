// Command shmkit inspects and cleans up shmkit shared-memory segments, and
// tours the example programs.
//
//	shmkit ls                 list every shmkit segment in /dev/shm
//	shmkit stat NAME          show a segment's header and object directory
//	shmkit rm NAME...         unlink segments
//	shmkit gc [--dry-run]     unlink segments whose creator has died
//	shmkit tour [EXAMPLE...]  build and run the programs under cmd/examples
//	shmkit help               this text
//
// The segment commands take --dir DIR to look somewhere other than /dev/shm.
// Exit status: 0 on success, 1 when an operation failed, 2 on bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shmkit/shmkit/shm"
)

const usage = `shmkit: inspect and clean up shmkit shared-memory segments

usage:
  shmkit ls [--dir DIR]                 list every shmkit segment
  shmkit stat [--dir DIR] NAME          show a segment's header and object directory
  shmkit rm [--dir DIR] NAME...         unlink segments (shmkit segments only)
  shmkit gc [--dir DIR] [--dry-run]     unlink segments whose creator has died
  shmkit tour [--list] [EXAMPLE...]     build and run the programs under cmd/examples
  shmkit help                           this text

Segments live in /dev/shm unless --dir says otherwise.
`

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // an operation failed
	exitUsage = 2 // bad command line
)

func main() {
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

// parse parses a subcommand's flags; errors come back marked errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", shm.DefaultDir, "directory holding the segments")
}

func cmdLs(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	dir := dirFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: ls takes no arguments, got %q", errUsage, fs.Args())
	}
	infos, err := shm.List(shm.WithDir(*dir))
	if err != nil {
		return err
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
			fmt.Fprintf(tw, "%s\t?\t%s\t-\t-\tcorrupt\t-\t(%v)\n", in.Name, byteSize(in.Size), in.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", in.Name, segKind(in.Kind), byteSize(in.Size),
			in.Objects, in.CreatorPID, state(in), age(now.Sub(in.Created)))
	}
	return tw.Flush()
}

func cmdStat(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stat", flag.ContinueOnError)
	dir := dirFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: stat takes one segment name, got %d", errUsage, fs.NArg())
	}
	seg, err := shm.Open(fs.Arg(0), shm.WithDir(*dir))
	if err != nil {
		return err
	}
	defer seg.Close()
	in := seg.Info()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", in.Name)
	fmt.Fprintf(tw, "path:\t%s\n", in.Path)
	fmt.Fprintf(tw, "kind:\t%s (layout version %d)\n", segKind(in.Kind), in.Version)
	fmt.Fprintf(tw, "size:\t%d bytes (%s), object area %d bytes from offset %d\n", in.Size, byteSize(in.Size), in.DataSize, in.DataOffset)
	fmt.Fprintf(tw, "creator:\tpid %d, start %d ticks, %s\n", in.CreatorPID, in.CreatorStart, state(in))
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
			fmt.Fprintf(tw, "%s\t?\t-\t-\t-\t-\t%d\t(%v)\n", o.Name, o.Offset, o.Err)
			continue
		}
		h := o.Header
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\n", o.Name, h.Kind, h.Version, typeString(h.Type), h.Capacity, h.BodySize, o.Offset)
	}
	return tw.Flush()
}

func cmdRm(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rm", flag.ContinueOnError)
	dir := dirFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: rm needs at least one segment name", errUsage)
	}
	var errs []error
	for _, name := range fs.Args() {
		// Only shmkit segments: a corrupt one may go, a stranger's file not.
		if _, err := shm.Stat(name, shm.WithDir(*dir)); err != nil && !errors.Is(err, shm.ErrCorrupt) {
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
		fmt.Fprintf(out, "removed %s\n", name)
	}
	return errors.Join(errs...)
}

func cmdGc(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	dir := dirFlag(fs)
	dry := fs.Bool("dry-run", false, "list what would be removed, remove nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: gc takes no arguments, got %q", errUsage, fs.Args())
	}
	got, err := shm.Collect(*dry, shm.WithDir(*dir))
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	for _, c := range got {
		switch {
		case c.Err != nil:
			fmt.Fprintf(out, "could not remove %s (%s, %s): %v\n", c.Name, c.Reason, byteSize(c.Size), c.Err)
		case c.Removed:
			fmt.Fprintf(out, "%s %s (%s, %s)\n", verb, c.Name, c.Reason, byteSize(c.Size))
		default:
			fmt.Fprintf(out, "left %s alone: %s\n", c.Name, c.Reason)
		}
	}
	if err != nil {
		return err
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
	if in.CreatorAlive {
		return "alive"
	}
	return "dead"
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
