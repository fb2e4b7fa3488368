// Command sophia-load-esl measures sophia's FreeSWITCH adapter under a steady rate of new
// calls, as sophia-load does for Asterisk: the fake FreeSWITCH 1.10 (internal/fakeesl)
// runs in a child process, sophia's call path (the adapter, the switchboard, the store on
// a real Redis) in this one, so that getrusage here counts sophia's CPU only.
//
//	sophia-load-esl --rate 50 --duration 20s --users 20 --redis-url redis://127.0.0.1:6379
//
// A call arrives as the fake's `socket` application connecting to sophia's listener;
// the tool times, on sophia's side, the accept of that socket (the call's arrival) to the
// write of the first bridge execute (p50, p90, p99, max). Calls go to a random user's
// desk (user/<id>, registered on the fake), which answers after 1 s and hangs up 2 s
// later. Every key it writes is under a fresh prefix and deleted at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/esl"
	"github.com/sophia-pbx/sophia/internal/fakeesl"
	"github.com/sophia-pbx/sophia/switchboard"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type params struct {
	Rate     float64
	Duration time.Duration
	Users    int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sophia-load-esl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p params
	fs.Float64Var(&p.Rate, "rate", 50, "new calls per second")
	fs.DurationVar(&p.Duration, "duration", 20*time.Second, "how long calls keep arriving")
	fs.IntVar(&p.Users, "users", 20, "users the calls are spread over (at most 999)")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379", "Redis to use (a fresh key prefix, deleted at the end)")
	serveFake := fs.Bool("serve-fake", false, "internal: run the fake FreeSWITCH (the child process)")
	socket := fs.String("socket", "", "internal: sophia's socket listener (the child's calls go there)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if p.Rate <= 0 || p.Duration <= 0 || p.Users <= 0 || p.Users > 999 {
		fmt.Fprintln(stderr, "sophia-load-esl: --rate, --duration and --users must be positive (users at most 999)")
		return 2
	}
	if *serveFake {
		return serve(p, *socket, os.Stdin, stdout, stderr)
	}
	return drive(p, *redisURL, stdout, stderr)
}

func userID(i int) string { return fmt.Sprintf("load%03d", i) }
func number(i int) string { return fmt.Sprintf("+33478100%03d", i) }

// serve is the child: a fake FreeSWITCH. It prints its Event Socket address, waits for
// "go" on stdin, places the calls at the rate asked, waits until every channel and
// socket has ended, and prints "done <calls>".
func serve(p params, socket string, in io.Reader, out, stderr io.Writer) int {
	var dir []string
	for i := range p.Users {
		dir = append(dir, userID(i))
	}
	f, err := fakeesl.New(fakeesl.Options{Directory: dir})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	for _, id := range dir {
		if err := f.Register(fakeesl.Registration{User: id, Endpoint: fakeesl.AnswerThenHangup(time.Second, 2*time.Second)}); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	fmt.Fprintln(out, f.Addr())
	sc := bufio.NewScanner(in)
	if !sc.Scan() || sc.Text() != "go" {
		return 1
	}
	n := int(p.Rate * p.Duration.Seconds())
	tick := time.NewTicker(time.Duration(float64(time.Second) / p.Rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		if _, err := f.InjectCall(fakeesl.CallSpec{Socket: socket, CallerIDNumber: fmt.Sprintf("+3314500%04d", i%10000),
			Destination: number(rand.N(p.Users))}); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	deadline := time.Now().Add(2*time.Minute + p.Duration)
	for len(f.Leftovers()) > 1 { // the inbound connection stays
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "calls still up: %d\n", len(f.Leftovers())-1)
			return 1
		}
		time.Sleep(50 * time.Millisecond) // the child's own pace: its CPU is not measured
	}
	fmt.Fprintf(out, "done %d\n", n)
	return 0
}

// drive is the parent: sophia's call path against the child's fake FreeSWITCH.
func drive(p params, redisURL string, stdout, stderr io.Writer) int {
	fail := func(err error) int { fmt.Fprintf(stderr, "sophia-load-esl: %v\n", err); return 1 }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdb, err := config.ParseRedisURL(redisURL)
	if err != nil {
		return fail(err)
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fail(fmt.Errorf("redis: %w", err))
	}
	prefix := fmt.Sprintf("sophialoadesl%d", time.Now().UnixNano())
	defer clean(rdb, prefix)
	st, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		return fail(err)
	}
	for i := range p.Users {
		s := config.DefaultSheet()
		s.ID, s.Name, s.MainNumber = userID(i), userID(i), number(i)
		s.Device = &config.Device{ID: "desk-" + s.ID, Endpoint: "user/" + s.ID}
		s.Advanced.MaxSimultaneousCalls, s.Advanced.CallWaiting = 50, true
		if _, err := st.PutUser(ctx, &s, "sophia-load-esl"); err != nil {
			return fail(err)
		}
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	ln := &timedListener{Listener: raw}

	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	child := exec.Command(self, "--serve-fake", "--rate", fmt.Sprint(p.Rate), "--duration", p.Duration.String(),
		"--users", fmt.Sprint(p.Users), "--socket", raw.Addr().String())
	child.Stderr = stderr
	toChild, _ := child.StdinPipe()
	fromChild, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return fail(err)
	}
	defer child.Wait()
	defer toChild.Close()
	lines := bufio.NewScanner(fromChild)
	if !lines.Scan() {
		return fail(fmt.Errorf("the fake FreeSWITCH did not start"))
	}
	fsAddr := strings.TrimSpace(lines.Text())

	board, err := switchboard.New(switchboard.Options{Store: st, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fail(err)
	}
	var mu sync.Mutex
	outcomes := map[string]int{}
	ended := 0
	a, err := esl.New(esl.Options{Listener: ln, Addr: fsAddr, Password: "ClueCon", Gateway: "sofia/gateway/trunk/{number}",
		Media: "http://127.0.0.1:8080/media", Board: board, Store: st, Registerer: prometheus.NewRegistry(),
		OnCallEnd: func(_ string, res *switchboard.Result) {
			mu.Lock()
			outcomes[string(res.Outcome.Kind)]++
			ended++
			mu.Unlock()
		}})
	if err != nil {
		return fail(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = board.Run(ctx) })
	wg.Go(func() { _ = a.Run(ctx) })
	defer wg.Wait()
	defer cancel()
	for a.Ready(ctx) != nil {
		time.Sleep(10 * time.Millisecond) // the link comes up once, before the measure
	}

	before := rusage()
	start := time.Now()
	fmt.Fprintln(toChild, "go")
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "done ") {
		return fail(fmt.Errorf("the fake FreeSWITCH stopped before the calls ended"))
	}
	var calls int
	fmt.Sscan(strings.TrimPrefix(lines.Text(), "done "), &calls)
	for deadline := time.Now().Add(10 * time.Second); ; {
		mu.Lock()
		n := ended
		mu.Unlock()
		if n >= calls || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wall := time.Since(start)
	cpu := rusage() - before

	lat := ln.latencies()
	slices.Sort(lat)
	q := func(f float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[max(0, min(int(f*float64(len(lat)))-1, len(lat)-1))].Round(10 * time.Microsecond)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(stdout, "machine: %d CPU, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(stdout, "calls: %d placed at %g/s over %v, %d ended in %v: %d answered, outcomes %v\n",
		calls, p.Rate, p.Duration, ended, wall.Round(time.Millisecond), outcomes["answered"], outcomes)
	fmt.Fprintf(stdout, "socket accept → first bridge: p50 %v, p90 %v, p99 %v, max %v (%d calls)\n", q(0.5), q(0.9), q(0.99), q(1), len(lat))
	if calls > 0 {
		fmt.Fprintf(stdout, "sophia CPU: %v per call (user+system of this process: adapter, switchboard, Redis client)\n",
			(cpu / time.Duration(calls)).Round(time.Microsecond))
	}
	return 0
}

func rusage() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clean deletes the run's keys, and only those (keys carry the prefix, hash-tagged in
// places: "*prefix*").
func clean(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for _, k := range keys {
		rdb.Del(ctx, k)
	}
}

// timedListener records, per accepted socket, the time from the accept to the first
// write of a bridge execute.
type timedListener struct {
	net.Listener
	mu  sync.Mutex
	lat []time.Duration
}

func (l *timedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, l: l, at: time.Now()}, nil
}

func (l *timedListener) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.lat...)
}

type timedConn struct {
	net.Conn
	l    *timedListener
	at   time.Time
	seen bool // the call's goroutine is the socket's only writer
}

// bridgeMarker is how eslgo's call.Execute renders the application's name.
var bridgeMarker = []byte("Execute-App-Name: bridge")

func (c *timedConn) Write(p []byte) (int, error) {
	if !c.seen && bytes.Contains(p, bridgeMarker) {
		c.seen = true
		d := time.Since(c.at)
		c.l.mu.Lock()
		c.l.lat = append(c.l.lat, d)
		c.l.mu.Unlock()
	}
	return c.Conn.Write(p)
}
