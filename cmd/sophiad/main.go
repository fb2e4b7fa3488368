// Command sophiad is the sophia daemon: the admin API over the settings store (Redis, or
// an embedded store persisted to a directory) and, in later issues, the PBX adapters.
//
// Exit codes: 0 after a clean shutdown (SIGTERM, SIGINT) or a good --check-config; 1 when
// a part fails at start or while running; 2 for a bad flag or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stderr)) }

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sophiad: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	if cfg.CheckConfig {
		log.Info("configuration ok", "config", cfg)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := newApp(ctx, cfg, log, stderr)
	if err != nil {
		log.Error("sophiad cannot start", "err", err)
		return 1
	}
	if err := a.run(ctx); err != nil {
		log.Error("sophiad stopped on a failure", "err", err)
		return 1
	}
	log.Info("sophiad stopped")
	return 0
}
