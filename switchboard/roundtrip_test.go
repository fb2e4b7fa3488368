package switchboard_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// onCallPath marks the context of the calls the tests handle: the trips recorded are
// those of the call path, not of the board's own goroutines (following sheet changes,
// sharing presence), which run beside it.
type onCallPath struct{}

// trips is a go-redis hook recording each round trip (a command, or a pipeline) made on
// the call path, as the names of the commands it carried.
type trips struct {
	mu  sync.Mutex
	got [][]string
}

func (r *trips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *trips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(onCallPath{}) != nil {
			r.add(cmd)
		}
		return next(ctx, cmd)
	}
}

func (r *trips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(onCallPath{}) != nil {
			r.add(cmds...)
		}
		return next(ctx, cmds)
	}
}

func (r *trips) add(cmds ...redis.Cmder) {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name()
	}
	r.mu.Lock()
	r.got = append(r.got, names)
	r.mu.Unlock()
}

// reads returns the round trips since the last call that read (not the call lease's
// MULTI/EXEC, which the board writes beside the call without the ring waiting for it,
// nor a new connection's handshake), and forgets every trip so far.
func (r *trips) reads() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]string
	for _, t := range r.got {
		if t[0] != "multi" && t[0] != "hello" && t[0] != "client" {
			out = append(out, t)
		}
	}
	r.got = nil
	return out
}

func countedBoard(t *testing.T, row *scenario.Row) (*env, *trips) {
	t.Helper()
	_, prefix := redistest.New(t) // the prefix, cleaned at the end
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr()})
	t.Cleanup(func() { rdb.Close() })
	tr := &trips{}
	rdb.AddHook(tr)
	return newEnvOn(t, rdb, prefix, row, nil), tr
}

// TestOutboundCallOneRoundTrip: once the daemon has seen the caller, everything an
// outbound call reads before it rings is one round trip: the caller by device, and the
// user the dialed number reaches (a colleague) or the miss that says it is a call
// outside.
func TestOutboundCallOneRoundTrip(t *testing.T) {
	both := []string{"evalsha_ro", "hmget", "zcount", "evalsha_ro", "hmget", "zcount"}
	outside := []string{"evalsha_ro", "hmget", "zcount", "evalsha_ro"}
	for _, tt := range []struct {
		row  string
		want []string
		by   string
	}{
		{"a call to a colleague is the colleague's inbound call", both, "user:bob"},
		{"a withheld call to a colleague", both, "user:bob"},
		{"outbound call presents the main number", outside, "+33611223344"},
		{"*322 presents the direct line", outside, "+33611223344"},
		{"a short number is expanded", outside, "+33478000099"},
	} {
		t.Run(tt.row, func(t *testing.T) {
			row := findRow(t, tt.row)
			e, tr := countedBoard(t, &row)
			var before [][]string
			for i, id := range []string{"cold", "warm"} {
				res, _ := e.handleWith(t, &row, id, func() { before = tr.reads() })
				if res.Err != nil || res.Outcome.Kind != callflow.OutcomeAnswered || res.Outcome.By != tt.by || res.User != "alice" {
					t.Fatalf("call %d: %+v, want alice's call answered by %s", i, res, tt.by)
				}
				tr.reads() // what the call did after its first ring
			}
			if !reflect.DeepEqual(before, [][]string{tt.want}) {
				t.Errorf("reads before the first ring: %q, want one round trip %q", before, tt.want)
			}
		})
	}
}

// TestOutboundGuessContradicted: the number is guessed from the caller's sheet as last
// read; when a change makes it wrong, the call still goes where the new sheet says.
func TestOutboundGuessContradicted(t *testing.T) {
	row := findRow(t, "a short number is expanded")
	row.Endpoints = map[string]callflow.Script{"+33478000099": {Behavior: callflow.Answer, AfterS: 1}, "user:bob": {Behavior: callflow.Answer, AfterS: 1}}
	e, tr := countedBoard(t, &row)
	if res, _ := e.handle(t, &row, "c1"); res.Outcome.By != "+33478000099" {
		t.Fatalf("first call: %+v", res.Outcome)
	}
	// Short number 12 now dials bob, a colleague.
	ctx := context.Background()
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error {
		s.ShortNumbers[0].Number = scenario.BobMain
		return nil
	}, "test"); err != nil {
		t.Fatal(err)
	}
	tr.reads()
	var before [][]string
	res, _ := e.handleWith(t, &row, "c2", func() { before = tr.reads() })
	if res.Outcome.Kind != callflow.OutcomeAnswered || res.Outcome.By != "user:bob" {
		t.Fatalf("after the change: %+v, want answered by user:bob", res.Outcome)
	}
	// The guess (the old short number, outside: a miss) rode with the caller; bob's
	// number was then looked up on its own.
	if len(before) < 2 || !reflect.DeepEqual(before[0], []string{"evalsha_ro", "hmget", "zcount", "evalsha_ro"}) ||
		!slices.Contains(before[1], "evalsha_ro") {
		t.Errorf("reads before the first ring: %q, want the guessed round trip, then bob's lookup", before)
	}
}

// TestInboundNationalNumberOneRoundTrip: a PBX handing the number over nationally costs
// one round trip too (the index holds E.164 numbers only: the national form is not
// looked up).
func TestInboundNationalNumberOneRoundTrip(t *testing.T) {
	row := findRow(t, "desk answers")
	row.Call.To = "0478000001"
	e, tr := countedBoard(t, &row)
	var before [][]string
	for _, id := range []string{"cold", "warm"} {
		res, _ := e.handleWith(t, &row, id, func() { before = tr.reads() })
		if res.User != "alice" || res.Outcome.Kind != callflow.OutcomeAnswered {
			t.Fatalf("call to 0478000001 = %+v, want alice's", res)
		}
		tr.reads()
	}
	if want := [][]string{{"evalsha_ro", "hmget", "zcount"}}; !reflect.DeepEqual(before, want) {
		t.Errorf("reads before the first ring: %q, want %q", before, want)
	}
}
