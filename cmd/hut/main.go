// Command hut trains, evaluates and serves HUT-family adapters (HUT, HiRA,
// LoRA, full fine-tuning) for GPT-2 and RoBERTa on a plain CPU.
//
// Each subcommand lives in its own file and registers itself in init, so
// adding one touches no other file:
//
//	hut train --method hut --steps 100
//	hut forward --model models/tiny-gpt2 --tokens "464 3290 373"
//	hut help
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
)

// command is one subcommand of hut.
type command struct {
	name  string
	short string // one line for `hut help`
	run   func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions of the
// subcommand files.
func register(name, short string, run func(args []string, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("hut: subcommand registered twice: " + name)
	}
	commands[name] = &command{name: name, short: short, run: run}
}

// defaultCommand runs when hut is started without a subcommand.
var defaultCommand = "serve"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs hut with args and returns the process exit code. Tests call it
// directly.
func Main(args []string, stdout, stderr io.Writer) int {
	name := defaultCommand
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 0 {
			if c, ok := commands[args[0]]; ok {
				_ = c.run([]string{"-h"}, stdout, stderr)
				return 0
			}
		}
		usage(stdout)
		return 0
	}
	if path := os.Getenv("HUT_CPUPROFILE"); path != "" {
		if stopProfile, err := startProfile(path); err != nil {
			fmt.Fprintf(stderr, "hut: HUT_CPUPROFILE: %v\n", err)
		} else {
			defer stopProfile()
		}
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "hut: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	if err := c.run(args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "hut %s: %v\n", name, err)
			return 2
		}
		fmt.Fprintf(stderr, "hut %s: %v\n", name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "hut: HUT-family parameter-efficient fine-tuning for GPT-2 and RoBERTa")
	fmt.Fprintln(w, "\nusage: hut <command> [flags]   (hut help <command> for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprintf(w, "\nwith no command, hut runs %q on its embedded defaults\n", defaultCommand)
}

// startProfile writes a CPU profile to path until the returned function
// runs (HUT_CPUPROFILE=FILE hut …; inspect with go tool pprof).
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// usageError marks a bad flag or argument (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hut "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hut %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseFlagsOnly is parseFlags for commands that take no positional
// arguments: a stray one is a usage error.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
