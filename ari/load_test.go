package ari_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sophia-pbx/sophia/ari"
	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeari"
)

// loadUsers stores n users u000… with desks PJSIP/u000… on +33478100000…, each taking
// up to maxCalls calls at once.
func loadUsers(t testing.TB, st *config.Store, n, maxCalls int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		s := config.DefaultSheet()
		s.ID, s.Name = fmt.Sprintf("u%03d", i), fmt.Sprintf("User %d", i)
		s.MainNumber = fmt.Sprintf("+33478100%03d", i)
		s.Device = &config.Device{ID: "desk-" + s.ID, Endpoint: "PJSIP/" + s.ID}
		s.Advanced.MaxSimultaneousCalls = maxCalls
		s.Voicemail.Enabled = false
		if _, err := st.PutUser(ctx, &s, "load"); err != nil {
			t.Fatal(err)
		}
	}
}

// Hundreds of concurrent calls; afterwards nothing is left: no goroutine, channel,
// bridge, playback, lease or counter.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const users, calls = 50, 200
	before := runtime.NumGoroutine()
	// Real time: 200 calls arriving within two seconds take seconds to set up with
	// -race on two cores shared with other tests (the fake Asterisk, Redis and sophia
	// share them), well within a 20 s ring; REST answers may take long meanwhile.
	h := newHarness(t, harnessOptions{scale: 1, adapter: func(o *ari.Options) { o.RequestTimeout = time.Minute }})
	loadUsers(t, h.store, users, 10)
	for i := range users {
		// Desks answer 0.3 to 0.9 s after the dial; callers hang up 3 s after the answer.
		h.fake.Script(fmt.Sprintf("PJSIP/u%03d", i), fakeari.AnswersAfter(time.Duration(1+i%3)*300*time.Millisecond))
	}
	var wg sync.WaitGroup
	ids := make(chan string, calls)
	tick := time.NewTicker(10 * time.Millisecond) // 200 arrivals over 2 s
	defer tick.Stop()
	for i := range calls {
		<-tick.C
		wg.Go(func() {
			c, err := h.fake.Inbound(fakeari.InboundCall{CallerNumber: fmt.Sprintf("+3314500%04d", i), CallerName: "Load",
				Exten: fmt.Sprintf("+33478100%03d", i%users), HangsUpAfter: 3 * time.Second})
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			ids <- c.ID()
		})
	}
	wg.Wait()
	close(ids)
	// Every call lasts at least 3.3 s: nearly all of them are in progress together.
	if n := h.ad.Calls(); n < calls/2 {
		t.Errorf("only %d calls in progress at once, want hundreds", n)
	} else {
		t.Logf("%d calls in progress at once", n)
	}
	h.waitEnded(calls, 60*time.Second)
	answered := 0
	for id := range ids {
		if res := h.waitEnd(id); res.Outcome.Kind == callflow.OutcomeAnswered {
			answered++
		} else {
			t.Errorf("call %s: %+v %v", id, res.Outcome, res.Err)
		}
	}
	if answered != calls {
		t.Errorf("%d of %d calls answered", answered, calls)
	}
	ctx := context.Background()
	if left := waitLeftovers(h.fake); len(left) > 0 {
		t.Errorf("%d things left on Asterisk, first: %v", len(left), left[0])
	}
	if n := h.ad.Calls(); n != 0 {
		t.Errorf("%d calls still held by the adapter", n)
	}
	if n := h.board.Leases(); n != 0 {
		t.Errorf("%d leases still held by the switchboard", n)
	}
	logged := 0
	for i := range users {
		uid := fmt.Sprintf("u%03d", i)
		if n, err := h.store.ActiveCalls(ctx, uid); err != nil || n != 0 {
			t.Errorf("%s: %d active calls in Redis (%v)", uid, n, err)
		}
		log, _ := h.store.CallLog(ctx, uid, 0)
		logged += len(log)
	}
	if logged != calls {
		t.Errorf("%d calls in the call logs, want %d", logged, calls)
	}
	if got := testutil.ToFloat64(counterOf(t, h, "sophia_calls_total")); got != calls {
		t.Errorf("sophia_calls_total = %v, want %d", got, calls)
	}
	if f := h.fake.Failures(); len(f) > 0 {
		t.Errorf("protocol misuse: %v", f)
	}
	// Every goroutine sophia started ends with it.
	h.stop()
	h.fake.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the load, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
