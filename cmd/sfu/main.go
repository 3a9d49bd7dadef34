// Command sfu runs a Cascade node and the tools around it. With no arguments it starts a
// development node; `sfu help` lists the subcommands.
//
// This package only wires things together: configuration (config.go), flags and the
// subcommands, each in its own file, registering itself with register.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand may touch of the outside world, so tests can run subcommands
// in-process.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// progName is how the user invoked us, for example commands printed to copy
	// ("go run ./cmd/sfu" under go run).
	progName string
}

// command is one subcommand. run gets the arguments after the subcommand's name and returns
// the exit code: 0 on success, 2 for bad usage or configuration, 1 for other failures.
type command struct {
	name    string
	args    string // synopsis of the arguments, for help
	summary string // one line, for help
	run     func(ctx context.Context, e *env, args []string) int
}

var commands = map[string]*command{}

// register adds a subcommand; each subcommand's file calls it from init.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("sfu: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// defaultCommand runs when the first argument is absent or a flag.
const defaultCommand = "serve"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second one kills the process
	// even if a graceful shutdown hangs.
	context.AfterFunc(ctx, stop)
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, progName: progName(os.Args[0])}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// progName is how to tell the user to run us again.
func progName(arg0 string) string {
	if strings.Contains(arg0, "go-build") {
		return "go run ./cmd/sfu"
	}
	return arg0
}

func run(ctx context.Context, e *env, args []string) int {
	name := defaultCommand
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			printHelp(e)
			return 0
		case !strings.HasPrefix(a, "-"):
			name, args = a, args[1:]
		}
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "sfu: unknown command %q\n\n", name)
		printCommands(e.stderr)
		return 2
	}
	return c.run(ctx, e, args)
}

func sortedCommands() []*command {
	cs := make([]*command, 0, len(commands))
	for _, c := range commands {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "Commands:")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

func printHelp(e *env) {
	fmt.Fprintf(e.stdout, "Cascade, a WebRTC SFU.\n\nUsage: %s [command] [flags]\n\n", e.progName)
	printCommands(e.stdout)
	fmt.Fprintf(e.stdout, "\nWith no command, %q runs. %s help COMMAND shows a command's flags.\n", defaultCommand, e.progName)
}

func init() {
	register(&command{
		name:    "help",
		args:    "[command]",
		summary: "list the commands, or show one command's flags",
		run: func(ctx context.Context, e *env, args []string) int {
			if len(args) == 0 {
				printHelp(e)
				return 0
			}
			c, ok := commands[args[0]]
			switch {
			case !ok:
				fmt.Fprintf(e.stderr, "sfu: unknown command %q\n\n", args[0])
				printCommands(e.stderr)
				return 2
			case c.name == "help":
				printHelp(e)
				return 0
			}
			help := *e
			help.stderr = e.stdout // asked-for help goes to stdout
			return c.run(ctx, &help, []string{"-h"})
		},
	})
}

// newFlagSet makes a subcommand's flag set, with a usage message naming the command.
func newFlagSet(e *env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s %s\n\n%s.\n\nFlags:\n", e.progName, c.name, c.args, upperFirst(c.summary))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. It returns done with the exit code when the command should
// stop here: 0 after -h, 2 after a bad flag or stray arguments.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments: %s\n", fs.Name(), strings.Join(fs.Args(), " "))
		fs.Usage()
		return 2, true
	}
	return 0, false
}

// exitCode reports err on stderr and turns it into an exit code.
func exitCode(e *env, cmd string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(e.stderr, "sfu %s: %v\n", cmd, err)
	if isUsage(err) {
		return 2
	}
	return 1
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
