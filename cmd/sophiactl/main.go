// Command sophiactl administers sophia through sophiad's HTTP API: users and sites, the
// daily shortcuts (DND, forwards), PINs, media, tokens, and bulk import/export of users.
//
// Exit codes (README.md, "sophiactl"):
//
//	0 success
//	1 failure: sophiad unreachable, a server error, anything else
//	2 usage: unknown command, bad flag or argument
//	3 import: finished, but some rows failed (each is reported)
//	4 not found (HTTP 404)
//	5 conflict: stale version, already exists, still in use (HTTP 409)
//	6 not allowed: no token, a bad one, or out of its scope (HTTP 401, 403)
//	7 invalid input (HTTP 400, 413, 415, 422)
//	8 lint: some sheets have warnings or errors (each is printed)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitRowsFailed = 3
	exitNotFound   = 4
	exitConflict   = 5
	exitDenied     = 6
	exitInvalid    = 7
	exitAdvice     = 8
)

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)) }

// env is what a command runs with.
type env struct {
	ctx    context.Context
	c      *client
	out    io.Writer
	errw   io.Writer
	in     io.Reader
	json   bool // -o json
	isTerm func() bool
}

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errRowsFailed: an import ran to its end with some rows refused (exit 3).
var errRowsFailed = errors.New("some rows failed")

// command is one sophiactl command: its words ("users list"), arguments, help and body.
type command struct {
	words string
	args  string
	help  string
	flags func(fs *flag.FlagSet) func(e *env, args []string) error
}

func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	cmd, rest := findCommand(args)
	if cmd == nil {
		fmt.Fprintf(stderr, "sophiactl: unknown command %q (sophiactl help lists them)\n", strings.Join(args[:min(2, len(args))], " "))
		return exitUsage
	}
	fs := flag.NewFlagSet("sophiactl "+cmd.words, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", or(getenv("SOPHIA_URL"), "http://127.0.0.1:8080"), "sophiad's API `URL` (env SOPHIA_URL)")
	// Not the env as the default: -h would print the secret.
	token := fs.String("token", "", "API `token` (default: env SOPHIA_TOKEN)")
	output := fs.String("o", "text", "output: text (for people) or json (for scripts)")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of each API call")
	body := cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sophiactl %s [flags] %s\n\n%s\n\nFlags:\n", cmd.words, cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	if err := fs.Parse(interspersed(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "sophiactl: -o %q: want text or json\n", *output)
		return exitUsage
	}
	c, err := newClient(*url, or(*token, getenv("SOPHIA_TOKEN")), *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "sophiactl: %v\n", err)
		return exitUsage
	}
	e := &env{ctx: context.Background(), c: c, out: stdout, errw: stderr, in: stdin, json: *output == "json",
		isTerm: func() bool { return isTerminal(stderr) }}
	err = body(e, fs.Args())
	return exitCode(err, stderr)
}

// exitCode reports err on stderr and maps it to the documented exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errRowsFailed) {
		return exitRowsFailed // the report said which
	}
	if errors.Is(err, errAdvice) {
		return exitAdvice // each item was printed
	}
	fmt.Fprintf(stderr, "sophiactl: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	switch statusOf(err) {
	case 404:
		return exitNotFound
	case 409:
		return exitConflict
	case 401, 403:
		return exitDenied
	case 400, 413, 415, 422:
		return exitInvalid
	}
	return exitFailure
}

// interspersed moves flags found after positional arguments in front of them, so that
// "sophiactl users get alice -o json" works as people type it.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func findCommand(args []string) (*command, []string) {
	for n := min(3, len(args)); n >= 1; n-- {
		words := strings.Join(args[:n], " ")
		for i := range commands {
			if commands[i].words == words {
				return &commands[i], args[n:]
			}
		}
	}
	return nil, nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "sophiactl administers sophia through sophiad's API.\n\nUsage: sophiactl <command> [flags] [arguments]\n\nCommands:\n")
	list := append([]command(nil), commands...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].words < list[j].words })
	for _, c := range list {
		fmt.Fprintf(w, "  %-36s %s\n", c.words+" "+c.args, firstLine(c.help))
	}
	fmt.Fprintf(w, "\nEvery command takes --url (SOPHIA_URL), --token (SOPHIA_TOKEN), -o text|json, --timeout.\n"+
		"sophiactl <command> -h shows a command's flags. Exit codes: README.md, \"sophiactl\".\n")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return termIsTerminal(int(f.Fd()))
}
