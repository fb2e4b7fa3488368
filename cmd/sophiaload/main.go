// Command sophiaload measures sophia's call path against a fake PBX speaking the real
// protocol on loopback, with a real Redis: how long from a call's arrival at sophia to
// its first bridge command (p50, p99), and the CPU each call costs.
//
//	sophiaload -pbx freeswitch -calls 2000 -concurrency 100 -redis 127.0.0.1:6379
//
// FreeSWITCH is internal/fakeesl in this process: a call arrives as its `socket`
// application connecting to sophia's listener; "arrival" is the accept, "first bridge"
// the moment sophia writes the bridge execute on that socket. Every desk answers after
// 1 s and hangs up 1 s later (fake seconds, shrunk by -scale). The CPU figure is the
// process's (getrusage: user + system) divided by the calls, so it includes the fake
// FreeSWITCH and the Redis client. Keys are written under a prefix of their own and
// deleted at the end.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/esl"
	"github.com/sophia-pbx/sophia/internal/fakeesl"
	"github.com/sophia-pbx/sophia/switchboard"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sophiaload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pbx := fs.String("pbx", "freeswitch", "the fake PBX to drive (freeswitch)")
	calls := fs.Int("calls", 1000, "calls to place")
	conc := fs.Int("concurrency", 100, "calls in progress at once")
	users := fs.Int("users", 20, "users the calls are spread over")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis address")
	scale := fs.Float64("scale", 0.01, "the fake PBX's clock scale (0.01: a 1 s ring lasts 10 ms)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *pbx != "freeswitch" {
		fmt.Fprintf(stderr, "sophiaload: -pbx %q: only freeswitch is driven by this tool\n", *pbx)
		return 2
	}
	if *calls <= 0 || *conc <= 0 || *users <= 0 || *users > 99 {
		fmt.Fprintln(stderr, "sophiaload: -calls and -concurrency must be positive, -users between 1 and 99")
		return 2
	}
	r, err := load(*calls, *conc, *users, *redisAddr, *scale)
	if err != nil {
		fmt.Fprintf(stderr, "sophiaload: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "machine: %d CPU, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(stdout, "calls: %d (%d at once, %d answered) in %v: %.0f calls/s\n", *calls, *conc, r.answered, r.wall.Round(time.Millisecond),
		float64(*calls)/r.wall.Seconds())
	fmt.Fprintf(stdout, "arrival → first bridge: p50 %v, p99 %v, max %v\n", r.p(0.50), r.p(0.99), r.p(1))
	fmt.Fprintf(stdout, "CPU per call: %v (user+system of the process, fake FreeSWITCH included)\n", r.cpu/time.Duration(*calls))
	return 0
}

type result struct {
	lat      []time.Duration
	wall     time.Duration
	cpu      time.Duration
	answered int
}

func (r *result) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q*float64(len(r.lat))) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))].Round(10 * time.Microsecond)
}

func load(calls, conc, users int, redisAddr string, scale float64) (*result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 4 * runtime.NumCPU()})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", redisAddr, err)
	}
	prefix := fmt.Sprintf("sophiaload%d", time.Now().UnixNano())
	defer clean(rdb, prefix)
	st, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	var dir []string
	for u := range users {
		id := fmt.Sprintf("load%02d", u)
		dir = append(dir, id)
		s := config.DefaultSheet()
		s.ID, s.Name, s.MainNumber = id, id, fmt.Sprintf("+334780010%02d", u)
		s.Device = &config.Device{ID: "desk-" + id, Endpoint: "user/" + id}
		s.Advanced.MaxSimultaneousCalls, s.Advanced.CallWaiting = 50, true
		s.Voicemail.Enabled = false
		if _, err := st.PutUser(ctx, &s, "sophiaload"); err != nil {
			return nil, err
		}
	}
	fake, err := fakeesl.New(fakeesl.Options{Clock: fakeesl.NewScaledClock(scale), Directory: dir})
	if err != nil {
		return nil, err
	}
	defer fake.Close()
	for _, id := range dir {
		if err := fake.Register(fakeesl.Registration{User: id, Endpoint: fakeesl.AnswerThenHangup(time.Second, time.Second)}); err != nil {
			return nil, err
		}
	}
	board, err := switchboard.New(switchboard.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ln := &timedListener{Listener: raw}
	var mu sync.Mutex
	ended := map[string]chan *switchboard.Result{}
	endOf := func(id string) chan *switchboard.Result {
		mu.Lock()
		defer mu.Unlock()
		c, ok := ended[id]
		if !ok {
			c = make(chan *switchboard.Result, 1)
			ended[id] = c
		}
		return c
	}
	a, err := esl.New(esl.Options{Listener: ln, Addr: fake.Addr(), Password: "ClueCon", Gateway: "sofia/gateway/trunk/{number}",
		Media: "http://127.0.0.1:8080/media", Board: board, Store: st,
		OnCallEnd: func(id string, res *switchboard.Result) { endOf(id) <- res }})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = board.Run(ctx) })
	wg.Go(func() { _ = a.Run(ctx) })
	defer wg.Wait()
	defer cancel()
	for a.Ready(ctx) != nil {
		time.Sleep(10 * time.Millisecond) // the inbound link comes up once, before the measure
	}

	res := &result{}
	before := rusage()
	start := time.Now()
	sem := make(chan struct{}, conc)
	var answered sync.WaitGroup
	var failed error
	var fmu sync.Mutex
	for i := range calls {
		sem <- struct{}{}
		answered.Go(func() {
			defer func() { <-sem }()
			id, err := fake.InjectCall(fakeesl.CallSpec{Socket: raw.Addr().String(), CallerIDNumber: fmt.Sprintf("+3314500%04d", i%10000),
				Destination: fmt.Sprintf("+334780010%02d", i%users)})
			if err == nil {
				select {
				case r := <-endOf(id):
					if r.Outcome.Kind == "answered" {
						fmu.Lock()
						res.answered++
						fmu.Unlock()
					}
				case <-time.After(time.Minute):
					err = fmt.Errorf("call %s did not end within a minute", id)
				}
			}
			if err != nil {
				fmu.Lock()
				failed = err
				fmu.Unlock()
			}
		})
	}
	answered.Wait()
	res.wall = time.Since(start)
	res.cpu = rusage() - before
	if failed != nil {
		return nil, failed
	}
	res.lat = ln.latencies()
	slices.Sort(res.lat)
	return res, nil
}

func rusage() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clean deletes the run's keys, and only those.
func clean(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			rdb.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// timedListener records, per accepted connection, the time from the accept to the first
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
	seen bool // the call's goroutine is the only writer
}

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
