// Command sophia-load measures sophia's Asterisk adapter under a steady rate of new
// calls: the fake Asterisk 22 (internal/fakeari) runs in a child process, sophia's call
// path (the adapter, the switchboard, the store on a real Redis) in this one, so that
// getrusage here counts sophia's CPU only.
//
//	sophia-load --rate 50 --duration 20s --users 200 --redis-url redis://127.0.0.1:6379
//
// It reports the latency from each call's StasisStart to its first leg's dial request
// (p50, p90, p99, max, as the fake Asterisk timed them), the calls' outcomes, and the CPU
// time this process spent per call. Every key it writes is under a fresh prefix and
// deleted at the end. Calls: to a random user's desk, which answers after 1 s; the
// caller hangs up 2 s later.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeari"
	"github.com/sophia-pbx/sophia/switchboard"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type params struct {
	Rate     float64
	Duration time.Duration
	Users    int
}

// result is what the fake's side measured, sent back as JSON.
type result struct {
	Calls, Ended int
	LatencyMS    []float64 // StasisStart → first dial, per call that dialed
	Outcomes     map[string]int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sophia-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p params
	fs.Float64Var(&p.Rate, "rate", 50, "new calls per second")
	fs.DurationVar(&p.Duration, "duration", 20*time.Second, "how long calls keep arriving")
	fs.IntVar(&p.Users, "users", 200, "users (each a desk PJSIP/l<n>) the calls go to")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379", "Redis to use (keys under a fresh prefix, deleted at the end)")
	serveFake := fs.Bool("serve-fake", false, "internal: run the fake Asterisk (the child process)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if p.Rate <= 0 || p.Duration <= 0 || p.Users <= 0 {
		fmt.Fprintln(stderr, "sophia-load: --rate, --duration and --users must be positive")
		return 2
	}
	if *serveFake {
		return serve(p, stdout, stderr)
	}
	if err := drive(p, *redisURL, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "sophia-load:", err)
		return 1
	}
	return 0
}

// serve is the child: a fake Asterisk; it prints its address, waits for "go" on stdin,
// places the calls at the rate, waits for them to end and prints the result.
func serve(p params, stdout, stderr io.Writer) int {
	f := fakeari.New(nil, fakeari.Options{TimeScale: 1})
	defer f.Close()
	for i := range p.Users {
		f.Script(fmt.Sprintf("PJSIP/l%04d", i), fakeari.AnswersAfter(time.Second))
	}
	fmt.Fprintln(stdout, "ADDR "+f.Addr())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "go" {
		return 1
	}
	n := int(p.Rate * p.Duration.Seconds())
	var mu sync.Mutex
	var calls []*fakeari.Call
	tick := time.NewTicker(time.Duration(float64(time.Second) / p.Rate))
	var wg sync.WaitGroup
	for range n {
		<-tick.C
		wg.Go(func() {
			c, err := f.Inbound(fakeari.InboundCall{CallerNumber: "+33145000000", CallerName: "Load",
				Exten: fmt.Sprintf("+33479%06d", rand.N(p.Users)), HangsUpAfter: 2 * time.Second})
			if err != nil {
				fmt.Fprintln(stderr, "inbound:", err)
				return
			}
			mu.Lock()
			calls = append(calls, c)
			mu.Unlock()
		})
	}
	tick.Stop()
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range calls {
		for !c.Ended() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	res := result{Calls: len(calls), Outcomes: map[string]int{}}
	start := map[string]time.Time{}
	first := map[string]time.Time{}
	for _, a := range f.Actions() {
		switch a.Kind {
		case "inbound":
			start[a.ChannelID] = a.At
		case "dial":
			call, _, _ := strings.Cut(a.ChannelID, "-")
			if _, seen := first[call]; !seen {
				first[call] = a.At
			}
		case "bridge_create":
			res.Outcomes["answered"]++
		}
	}
	for _, c := range calls {
		if c.Ended() {
			res.Ended++
		}
		if t, ok := first[c.ID()]; ok {
			res.LatencyMS = append(res.LatencyMS, float64(t.Sub(start[c.ID()]).Microseconds())/1000)
		}
	}
	json.NewEncoder(stdout).Encode(&res)
	return 0
}

// drive is the parent: sophia's call path against the child's fake Asterisk.
func drive(p params, redisURL string, stdout, stderr io.Writer) error {
	rdb, err := config.ParseRedisURL(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	prefix := fmt.Sprintf("sophiaload%d", time.Now().UnixNano())
	ctx := context.Background()
	defer func() {
		iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for _, k := range keys {
			rdb.Del(ctx, k)
		}
	}()
	st, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		return err
	}
	for i := range p.Users {
		s := config.DefaultSheet()
		s.ID, s.Name = fmt.Sprintf("l%04d", i), fmt.Sprintf("Load %d", i)
		s.MainNumber = fmt.Sprintf("+33479%06d", i)
		s.Device = &config.Device{ID: "desk-" + s.ID, Endpoint: "PJSIP/" + s.ID}
		s.Advanced.MaxSimultaneousCalls = 50
		s.Voicemail.Enabled = false
		if _, err := st.PutUser(ctx, &s, "sophia-load"); err != nil {
			return fmt.Errorf("user %s: %w", s.ID, err)
		}
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "--serve-fake", "--rate", fmt.Sprint(p.Rate), "--duration", p.Duration.String(), "--users", fmt.Sprint(p.Users))
	child.Stderr = stderr
	toChild, _ := child.StdinPipe()
	fromChild, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer child.Wait()
	out := bufio.NewReader(fromChild)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		return fmt.Errorf("fake Asterisk did not start: %q %v", line, err)
	}

	reg := prometheus.NewRegistry()
	board, err := switchboard.New(switchboard.Options{Store: st, Registerer: reg})
	if err != nil {
		return err
	}
	ad, err := ari.New(ari.Options{URL: "http://" + addr, User: "sophia", Password: "sophia", Board: board,
		Registerer: reg, Trunk: "PJSIP/{number}@trunk", Media: "http://127.0.0.1:8080/media"})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { board.Run(rctx) })
	wg.Go(func() { ad.Run(rctx) })
	defer func() { cancel(); wg.Wait() }()
	for ad.Ready(ctx) != nil || board.Ready(ctx) != nil {
		time.Sleep(10 * time.Millisecond)
	}

	before := rusage()
	t0 := time.Now()
	fmt.Fprintln(toChild, "go")
	var res result
	if err := json.NewDecoder(out).Decode(&res); err != nil {
		return fmt.Errorf("read the fake's result: %w", err)
	}
	cpu := rusage() - before
	elapsed := time.Since(t0)

	lat := slices.Clone(res.LatencyMS)
	slices.Sort(lat)
	q := func(f float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(f*float64(len(lat))))]
	}
	fmt.Fprintf(stdout, "machine: %d CPUs, %s, %s\n", runtime.NumCPU(), runtime.Version(), runtime.GOARCH)
	fmt.Fprintf(stdout, "calls: %d placed at %.0f/s for %v, %d ended, %d answered (in %v)\n",
		res.Calls, p.Rate, p.Duration, res.Ended, res.Outcomes["answered"], elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "StasisStart → first dial: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d calls)\n",
		q(0.50), q(0.90), q(0.99), q(1), len(lat))
	if res.Calls > 0 {
		fmt.Fprintf(stdout, "sophia CPU: %v in all, %.2f ms per call (user+system, getrusage)\n",
			cpu.Round(time.Millisecond), float64(cpu.Microseconds())/1000/float64(res.Calls))
	}
	if res.Ended != res.Calls || res.Outcomes["answered"] != res.Calls {
		return fmt.Errorf("%d of %d calls ended, %d answered", res.Ended, res.Calls, res.Outcomes["answered"])
	}
	return nil
}

// rusage returns this process's CPU time so far (user + system).
func rusage() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
