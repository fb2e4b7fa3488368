// Command sophia-load measures one of sophia's PBX adapters under a steady rate of new
// calls. The fake PBX (internal/fakeari for Asterisk 22, internal/fakeesl for
// FreeSWITCH 1.10) runs in a child process, sophia's call path (the adapter, the
// switchboard, the store on a real Redis) in this one, so that getrusage here counts
// sophia's CPU only.
//
//	sophia-load --pbx asterisk --rate 50 --duration 20s --users 200 --redis-url redis://127.0.0.1:6379
//	sophia-load --pbx freeswitch --rate 50 --duration 20s
//
// Each call goes to a random user's desk (PJSIP/<id> on Asterisk, user/<id> registered
// on FreeSWITCH), which rings for --ring (1 s), answers and hangs up --talk (2 s) later.
// The tool reports the calls' outcomes as sophia saw them (its adapter's OnCallEnd), the
// latency from the call's arrival at sophia to sophia's first leg command (p50, p90, p99,
// max) and the CPU time this process spent per call (user + system, getrusage).
//
// What the latency spans, per PBX:
//
//   - freeswitch: timed in this process, from the accept of the call's socket (the
//     fake's `socket` application connecting to sophia's listener) to the write of the
//     call's first `bridge` execute.
//   - asterisk: timed by the fake Asterisk in the child, from the call's StasisStart
//     (queued on the fake's WebSocket) to the fake handling the first leg's dial
//     request. The adapter offers no hook on its own connections, so this span also
//     holds the two loopback hops and the fake's HTTP parsing: it is sophia's time plus
//     a little.
//
// Every key it writes is under a fresh prefix and deleted at the end.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
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
	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/switchboard"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

type params struct {
	PBX        string
	Rate       float64
	Duration   time.Duration
	Users      int
	Ring, Talk time.Duration
}

// calls is how many calls the run places.
func (p params) calls() int { return int(p.Rate * p.Duration.Seconds()) }

// childArgs are the flags that make the child see the same run.
func (p params) childArgs() []string {
	return []string{"--serve-fake", "--pbx", p.PBX, "--rate", fmt.Sprint(p.Rate), "--duration", p.Duration.String(),
		"--users", fmt.Sprint(p.Users), "--ring", p.Ring.String(), "--talk", p.Talk.String()}
}

// A pbx is what differs between Asterisk and FreeSWITCH: the child's fake and sophia's
// adapter wired to it (asterisk.go, freeswitch.go).
type pbx struct {
	// span says what the latency runs from and to, and who times it (the report line).
	span string
	// endpoint is the desk of user id, as the user's sheet names it.
	endpoint func(id string) string
	// fake starts the child's fake PBX, users' desks scripted as params say; sophia is
	// the address of sophia's listener when the fake connects to sophia (FreeSWITCH).
	fake func(p params, users []string, sophia string) (fakePBX, error)
	// sophia prepares sophia's side in this process.
	sophia func() (side, error)
}

var pbxs = map[string]pbx{"asterisk": asterisk, "freeswitch": freeswitch}

// A fakePBX is the child's fake PBX.
type fakePBX interface {
	addr() string
	// place makes one call from caller to number arrive at sophia.
	place(caller, number string) error
	// up counts what is not over yet: calls, legs, sockets.
	up() int
	// latencies are the spans the fake timed itself (Asterisk), nil when sophia's side
	// times them.
	latencies() []time.Duration
	close()
}

// A side is sophia's side of a run in this process.
type side interface {
	// childArgs are the flags the child needs besides the run's (FreeSWITCH: where
	// sophia listens).
	childArgs() []string
	// adapter wires sophia's adapter to the fake PBX at addr.
	adapter(addr string, w wiring) (adapter, error)
	// latencies are the spans timed in this process, nil when the fake times them.
	latencies() []time.Duration
}

// wiring is what both adapters are given.
type wiring struct {
	board *switchboard.Board
	store *config.Store
	reg   prometheus.Registerer
	log   *slog.Logger
	onEnd func(callID string, res *switchboard.Result)
}

type adapter interface {
	Run(ctx context.Context) error
	Ready(ctx context.Context) error
}

// childReport is what the child prints once its calls are over.
type childReport struct {
	Placed    int             // calls that arrived
	Up        int             // what was still up at the child's deadline
	Latencies []time.Duration // timed by the fake (Asterisk)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sophia-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p params
	fs.StringVar(&p.PBX, "pbx", "asterisk", "the PBX whose adapter is measured: asterisk or freeswitch")
	fs.Float64Var(&p.Rate, "rate", 50, "new calls per second")
	fs.DurationVar(&p.Duration, "duration", 20*time.Second, "how long calls keep arriving")
	fs.IntVar(&p.Users, "users", 200, "users the calls are spread over (at most 10000)")
	fs.DurationVar(&p.Ring, "ring", time.Second, "how long a desk rings before it answers")
	fs.DurationVar(&p.Talk, "talk", 2*time.Second, "how long after answering the desk hangs up")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379", "Redis to use (keys under a fresh prefix, deleted at the end)")
	serveFake := fs.Bool("serve-fake", false, "internal: run the fake PBX (the child process)")
	socket := fs.String("socket", "", "internal: sophia's listener the child's fake FreeSWITCH connects to")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var bad []string
	x, ok := pbxs[p.PBX]
	if !ok {
		bad = append(bad, fmt.Sprintf("--pbx %q: want asterisk or freeswitch", p.PBX))
	}
	if p.Rate <= 0 {
		bad = append(bad, "--rate: must be positive")
	}
	if p.Duration <= 0 {
		bad = append(bad, "--duration: must be positive")
	}
	if p.Users <= 0 || p.Users > 10000 {
		bad = append(bad, "--users: must be 1 to 10000")
	}
	if p.Ring < 0 || p.Talk < 0 {
		bad = append(bad, "--ring, --talk: must not be negative")
	}
	if ok && p.calls() == 0 {
		bad = append(bad, "--rate × --duration: less than one call")
	}
	if len(bad) > 0 {
		fmt.Fprintln(stderr, "sophia-load: "+strings.Join(bad, "; "))
		return 2
	}
	if *serveFake {
		return serve(x, p, *socket, stdin, stdout, stderr)
	}
	if err := drive(x, p, *redisURL, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "sophia-load:", err)
		return 1
	}
	return 0
}

func userID(i int) string { return fmt.Sprintf("load%04d", i) }
func number(i int) string { return fmt.Sprintf("+33479%06d", i) }

// serve is the child: a fake PBX. It prints "ADDR <addr>", waits for "go" on stdin,
// places the calls at the rate asked, waits until they are over and prints its
// childReport as JSON.
func serve(x pbx, p params, socket string, stdin io.Reader, stdout, stderr io.Writer) int {
	users := make([]string, p.Users)
	for i := range users {
		users[i] = userID(i)
	}
	f, err := x.fake(p, users, socket)
	if err != nil {
		fmt.Fprintln(stderr, "fake PBX:", err)
		return 1
	}
	defer f.close()
	fmt.Fprintln(stdout, "ADDR "+f.addr())
	in := bufio.NewScanner(stdin)
	if !in.Scan() || in.Text() != "go" {
		return 1
	}
	var mu sync.Mutex
	rep := childReport{}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / p.Rate))
	for i := range p.calls() {
		<-tick.C
		wg.Go(func() { // a placing fake waiting on its lock does not hold the pace back
			if err := f.place(fmt.Sprintf("+3314500%04d", i%10000), number(rand.N(p.Users))); err != nil {
				fmt.Fprintln(stderr, "place a call:", err)
				return
			}
			mu.Lock()
			rep.Placed++
			mu.Unlock()
		})
	}
	tick.Stop()
	wg.Wait()
	deadline := time.Now().Add(time.Minute + p.Ring + p.Talk)
	for f.up() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the child's own pace: its CPU is not measured
	}
	rep.Up, rep.Latencies = f.up(), f.latencies()
	if err := json.NewEncoder(stdout).Encode(&rep); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// drive is the parent: sophia's call path against the child's fake PBX.
func drive(x pbx, p params, redisURL string, stdout, stderr io.Writer) error {
	ctx := context.Background()
	rdb, err := config.ParseRedisURL(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	prefix := fmt.Sprintf("sophiaload%d", time.Now().UnixNano())
	defer clean(rdb, prefix)
	st, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		return err
	}
	for i := range p.Users {
		s := config.DefaultSheet()
		s.ID, s.Name, s.MainNumber = userID(i), fmt.Sprintf("Load %d", i), number(i)
		s.Device = &config.Device{ID: "desk-" + s.ID, Endpoint: x.endpoint(s.ID)}
		s.Advanced.MaxSimultaneousCalls, s.Advanced.CallWaiting = 50, true
		s.Voicemail.Enabled = false // a call not answered shows as such
		if _, err := st.PutUser(ctx, &s, "sophia-load"); err != nil {
			return fmt.Errorf("user %s: %w", s.ID, err)
		}
	}

	sd, err := x.sophia()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, append(p.childArgs(), sd.childArgs()...)...)
	child.Stderr = stderr
	toChild, err := child.StdinPipe()
	if err != nil {
		return err
	}
	fromChild, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer child.Wait()
	defer toChild.Close() // a child still waiting for "go" gives up
	out := bufio.NewReader(fromChild)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		return fmt.Errorf("the fake %s did not start: %q %v", p.PBX, line, err)
	}

	ends := make(chan callflow.OutcomeKind, p.calls())
	reg := prometheus.NewRegistry()
	quiet := slog.New(slog.DiscardHandler)
	board, err := switchboard.New(switchboard.Options{Store: st, Registerer: reg, Logger: quiet})
	if err != nil {
		return err
	}
	ad, err := sd.adapter(addr, wiring{board: board, store: st, reg: reg, log: quiet,
		onEnd: func(_ string, res *switchboard.Result) {
			select {
			case ends <- res.Outcome.Kind:
			default: // more ends than calls placed: counted short, reported as a failure
			}
		}})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = board.Run(rctx) })
	wg.Go(func() { _ = ad.Run(rctx) })
	defer func() { cancel(); wg.Wait() }()
	for ad.Ready(ctx) != nil || board.Ready(ctx) != nil {
		time.Sleep(10 * time.Millisecond) // the link comes up once, before the measure
	}

	before := rusage()
	t0 := time.Now()
	fmt.Fprintln(toChild, "go")
	var rep childReport
	if err := json.NewDecoder(out).Decode(&rep); err != nil {
		return fmt.Errorf("read the fake's report: %w", err)
	}
	outcomes := map[callflow.OutcomeKind]int{}
	ended := 0
	for timeout := time.After(10 * time.Second); ended < rep.Placed; ended++ {
		select {
		case k := <-ends:
			outcomes[k]++
		case <-timeout:
			return fmt.Errorf("%d of %d calls ended on sophia's side", ended, rep.Placed)
		}
	}
	elapsed := time.Since(t0)
	cpu := rusage() - before

	lat := sd.latencies()
	if lat == nil {
		lat = rep.Latencies
	}
	slices.Sort(lat)
	fmt.Fprintf(stdout, "machine: %d CPUs, %s/%s, %s, load average %s\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAverage())
	fmt.Fprintf(stdout, "%s calls: %d placed at %g/s for %v, %d ended, %d answered (in %v), outcomes %v\n",
		p.PBX, rep.Placed, p.Rate, p.Duration, ended, outcomes[callflow.OutcomeAnswered], elapsed.Round(time.Millisecond), outcomes)
	fmt.Fprintf(stdout, "%s: p50 %s, p90 %s, p99 %s, max %s (%d calls)\n",
		x.span, ms(quantile(lat, 0.50)), ms(quantile(lat, 0.90)), ms(quantile(lat, 0.99)), ms(quantile(lat, 1)), len(lat))
	if rep.Placed > 0 {
		fmt.Fprintf(stdout, "sophia CPU: %v in all, %s per call (user+system of this process: adapter, switchboard, Redis client; getrusage)\n",
			cpu.Round(time.Millisecond), ms(cpu/time.Duration(rep.Placed)))
	}
	var errs []error
	if rep.Placed != p.calls() {
		errs = append(errs, fmt.Errorf("%d of %d calls placed", rep.Placed, p.calls()))
	}
	if n := outcomes[callflow.OutcomeAnswered]; n != rep.Placed {
		errs = append(errs, fmt.Errorf("%d of %d calls answered", n, rep.Placed))
	}
	if len(lat) != rep.Placed {
		errs = append(errs, fmt.Errorf("%d of %d calls timed", len(lat), rep.Placed))
	}
	if rep.Up > 0 {
		errs = append(errs, fmt.Errorf("the fake %s still had %d channels or sockets up", p.PBX, rep.Up))
	}
	return errors.Join(errs...)
}

// quantile is the nearest-rank q-quantile of sorted durations (0 for none).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// rusage is this process's CPU time so far (user + system).
func rusage() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's 1, 5 and 15 minute load averages ("?" where unknown).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// clean deletes the run's keys, and only those.
func clean(rdb redis.UniversalClient, prefix string) {
	if err := redistest.DeleteKeys(context.Background(), rdb, prefix); err != nil {
		fmt.Fprintf(os.Stderr, "sophia-load: clean up the run's keys (prefix %s): %v\n", prefix, err)
	}
}
