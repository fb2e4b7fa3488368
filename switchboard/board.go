package switchboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
)

// UnknownPolicy says what happens to a call to a number no user owns (or from a device no
// user holds).
type UnknownPolicy uint8

// Policies.
const (
	// UnknownContinue gives the call back to the PBX's dialplan (Asterisk: continue after
	// Stasis; FreeSWITCH: the next dialplan action), which may route it elsewhere.
	UnknownContinue UnknownPolicy = iota
	// UnknownReject hangs the call up (call rejected).
	UnknownReject
)

// ParseUnknownPolicy reads "continue" or "reject".
func ParseUnknownPolicy(s string) (UnknownPolicy, error) {
	switch strings.ToLower(s) {
	case "", "continue":
		return UnknownContinue, nil
	case "reject":
		return UnknownReject, nil
	}
	return 0, fmt.Errorf("unknown-number policy %q: want continue or reject", s)
}

func (p UnknownPolicy) String() string {
	if p == UnknownReject {
		return "reject"
	}
	return "continue"
}

// DefaultLease is how long an active-call lease lasts unless renewed: a daemon that dies
// leaves its calls counted for at most this long.
const DefaultLease = time.Minute

// Options configure a Board. Store is required; the zero value of every other field is
// the production default.
type Options struct {
	Store      *config.Store
	Registerer prometheus.Registerer // nil: a private registry
	Logger     *slog.Logger          // nil discards
	Unknown    UnknownPolicy
	// Region is the default region used to read a dialed number that is neither E.164
	// nor an internal extension ("0478000001" with "FR"); "" reads numbers as given.
	Region string
	// Lease is the active-call lease (DefaultLease when 0); Board.Run renews live leases
	// every Lease/3.
	Lease time.Duration
	// Now is the clock (nil: time.Now); Seconds turns the engine's seconds into ring
	// deadlines (nil: seconds): both go to callflow.Options.
	Now     func() time.Time
	Seconds func(s int) time.Duration
	// DaemonID names this daemon among those sharing the Redis (its share of users'
	// presence); "" draws one at random. Two daemons must not share an id.
	DaemonID string
}

func (o *Options) validate() error {
	if o.Store == nil {
		return errors.New("switchboard: Store is required")
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Lease < time.Second {
		return fmt.Errorf("switchboard: lease %v is shorter than a second", o.Lease)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DaemonID == "" {
		host, _ := os.Hostname()
		o.DaemonID = fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
	}
	if strings.ContainsAny(o.DaemonID, " \t\n") {
		return fmt.Errorf("switchboard: daemon id %q: no spaces", o.DaemonID)
	}
	return nil
}

// Board handles calls for the adapters (package doc). It is safe for concurrent use:
// every call runs Handle in its own goroutine.
type Board struct {
	o   Options
	st  *config.Store
	log *slog.Logger
	m   *metrics
	p   *presence
	cfo *callflow.Options

	leaseMu   sync.Mutex
	leases    map[lease]struct{}      // live leases, renewed by Run
	acquiring map[lease]chan struct{} // leases being taken (closed when done)

	watching atomic.Bool // the subscription to sheet changes is active
	sharing  atomic.Bool // the subscription to the other daemons' presence is active
	readMu   sync.Mutex  // one readShared at a time: a read is applied before a later one
	shareMu  sync.Mutex  // one share at a time, of the counts at its time: none overwrites a newer one

	devMu      sync.Mutex
	devWatches []func(endpoint string) // OnDevice callbacks
}

type lease struct{ uid, call string }

// New returns a Board. It does not touch Redis.
func New(o Options) (*Board, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	b := &Board{o: o, st: o.Store, log: o.Logger, m: newMetrics(o.Registerer), p: newPresence(),
		cfo: &callflow.Options{Now: o.Now, Seconds: o.Seconds}, leases: map[lease]struct{}{},
		acquiring: map[lease]chan struct{}{}}
	return b, nil
}

// AddPublisher adds an adapter that publishes presence. Call it before Run.
func (b *Board) AddPublisher(p Publisher) {
	b.p.mu.Lock()
	b.p.pubs = append(b.p.pubs, p)
	b.p.mu.Unlock()
}

// OnDevice adds fn, called with the device endpoint of every user whose sheet changed
// (from Run's goroutine, as the change arrives): an adapter that must subscribe to a
// device's events learns of a new one at once. fn must not block. Call it before Run.
func (b *Board) OnDevice(fn func(endpoint string)) {
	b.devMu.Lock()
	b.devWatches = append(b.devWatches, fn)
	b.devMu.Unlock()
}

// SetLink records the state of the link to a PBX (pbx: "asterisk", "freeswitch").
func (b *Board) SetLink(pbx string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	b.m.link.WithLabelValues(pbx).Set(v)
}

// Republish queues every followed user's presence again: an adapter calls it after its
// PBX restarted or the link came back.
func (b *Board) Republish() { b.p.republish() }

// Presence returns what the board computed for uid.
func (b *Board) Presence(uid string) Presence { return b.p.get(uid) }

// DeviceState records a device's state as the PBX reported it (config.Store.
// SetDeviceState) and updates its user's presence. It returns the user holding the
// device; a device no user holds is ignored ("", nil).
func (b *Board) DeviceState(ctx context.Context, endpoint string, st config.DeviceState) (string, error) {
	uid, err := b.st.SetDeviceState(ctx, endpoint, st)
	if errors.Is(err, config.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		b.m.errors.WithLabelValues("device_state").Inc()
		return "", err
	}
	b.p.update(uid, func(u *userState) { u.offline = st == config.DeviceOffline })
	return uid, nil
}

// Run renews the active-call leases of the calls in progress every Lease/3, publishes
// presence changes to the publishers, and follows sheet changes (do not disturb, a new
// device) into presence, until ctx ends.
func (b *Board) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.publishLoop(ctx) })
	wg.Go(func() { b.watchLoop(ctx) })
	wg.Go(func() { b.shareLoop(ctx) })
	wg.Go(func() { b.presenceLoop(ctx) })
	t := time.NewTicker(b.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			b.renew(ctx)
			b.renewPresence(ctx)
		}
	}
}

// shareLoop writes this daemon's call counts of the users whose counts changed to Redis
// (config.Store.SharePresence), so that every daemon shows the same presence: a user in
// a call another daemon handles is in call on this daemon's BLF keys too. A burst of
// changes of one user shares its last counts once.
func (b *Board) shareLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.p.shareWake:
		}
		for _, uid := range b.p.takeShares() {
			b.share(ctx, uid)
		}
	}
}

// share writes this daemon's counts of uid as they are when it writes.
func (b *Board) share(ctx context.Context, uid string) {
	b.shareMu.Lock()
	defer b.shareMu.Unlock()
	if err := b.st.SharePresence(ctx, uid, b.o.DaemonID, b.p.local(uid), b.o.Lease); err != nil && ctx.Err() == nil {
		b.m.errors.WithLabelValues("presence_share").Inc()
		b.log.Warn("share presence", "user", uid, "err", err)
	}
}

// presenceLoop follows the other daemons' shares (P:presence) into the users' presence.
func (b *Board) presenceLoop(ctx context.Context) {
	subscribed(ctx, b.st.WatchPresence, &b.sharing, func(n config.PresenceNote) {
		if n.Daemon != b.o.DaemonID {
			b.readShared(ctx, n.User)
		}
	})
}

// subscribed runs handle on each message of the subscription sub makes, while active
// says it is on, until ctx ends; it subscribes again, with capped backoff, when Redis is
// away or the subscription ends.
func subscribed[T any](ctx context.Context, sub func(context.Context) (<-chan T, error), active *atomic.Bool, handle func(T)) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		ch, err := sub(ctx)
		if err != nil {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, 5*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
		active.Store(true)
		for m := range ch {
			handle(m)
		}
		active.Store(false)
	}
}

// readShared reads what the other daemons' calls make of uid. Reads are serialized (the
// notes' loop and the renewal tick both read), so that an older read is never applied
// after a newer one.
func (b *Board) readShared(ctx context.Context, uid string) {
	b.readMu.Lock()
	defer b.readMu.Unlock()
	c, err := b.st.SharedPresence(ctx, uid, b.o.DaemonID)
	if err != nil {
		if ctx.Err() == nil {
			b.m.errors.WithLabelValues("presence_read").Inc()
			b.log.Warn("read shared presence", "user", uid, "err", err)
		}
		return
	}
	b.p.update(uid, func(u *userState) { u.remote = c })
}

// renewPresence renews this daemon's shares while its calls last, and reads again the
// users other daemons' calls count: a share that expired (its daemon died) stops counting.
func (b *Board) renewPresence(ctx context.Context) {
	local, remote := b.p.counted()
	for _, uid := range local {
		b.share(ctx, uid)
	}
	for _, uid := range remote {
		b.readShared(ctx, uid)
	}
}

func (b *Board) renew(ctx context.Context) {
	b.leaseMu.Lock()
	live := make([]lease, 0, len(b.leases))
	for l := range b.leases {
		live = append(live, l)
	}
	b.leaseMu.Unlock()
	for _, l := range live {
		err := b.st.RenewCall(ctx, l.uid, l.call, b.o.Lease)
		if errors.Is(err, config.ErrNotFound) && b.holds(l) {
			// Expired (Redis was away longer than the lease) while the call goes on:
			// take it again, unless the call ended meanwhile (then give it back).
			_, err = b.st.AcquireCall(ctx, l.uid, l.call, b.o.Lease)
			if err == nil && !b.holds(l) {
				err = b.st.ReleaseCall(ctx, l.uid, l.call)
			}
		} else if errors.Is(err, config.ErrNotFound) {
			err = nil // released since the snapshot: nothing to renew
		}
		if err != nil && ctx.Err() == nil {
			b.m.errors.WithLabelValues("renew").Inc()
			b.log.Warn("renew call lease", "user", l.uid, "call_id", l.call, "err", err)
		}
	}
}

func (b *Board) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.p.wake:
		}
		users, states := b.p.take()
		pubs := b.p.publishers()
		for i, uid := range users {
			b.m.published.WithLabelValues(states[i].String()).Inc()
			for _, pub := range pubs {
				if err := pub.Publish(ctx, uid, states[i]); err != nil && ctx.Err() == nil {
					b.m.errors.WithLabelValues("publish").Inc()
					b.log.Warn("publish presence", "user", uid, "presence", states[i].String(), "err", err)
				}
			}
		}
	}
}

// watchLoop follows user changes into presence (do not disturb turned on or off from
// the API, a device changed).
func (b *Board) watchLoop(ctx context.Context) {
	subscribed(ctx, b.st.Watch, &b.watching, func(c config.Change) {
		if c.Kind != config.KindUser {
			return
		}
		v, err := b.st.CallView(ctx, c.ID)
		if err != nil {
			if errors.Is(err, config.ErrNotFound) {
				b.p.update(c.ID, func(u *userState) { u.dnd, u.offline = false, false })
			}
			return
		}
		b.follow(c.ID, v)
		b.noticeDevice(v)
	})
}

// Ready reports whether the board follows sheet changes and the other daemons' presence
// (Run's subscriptions are active): until then a do-not-disturb change, or a call another
// daemon handles, would not reach the BLF keys.
func (b *Board) Ready(context.Context) error {
	if !b.watching.Load() {
		return errors.New("switchboard: not following sheet changes yet")
	}
	if !b.sharing.Load() {
		return errors.New("switchboard: not following the other daemons' presence yet")
	}
	return nil
}

// noticeDevice tells the OnDevice callbacks of the device of a changed user.
func (b *Board) noticeDevice(v *config.CallView) {
	if v == nil || v.User == nil || v.User.Sheet == nil || v.User.Sheet.Device == nil || v.User.Sheet.Device.Endpoint == "" {
		return
	}
	b.devMu.Lock()
	fns := b.devWatches
	b.devMu.Unlock()
	for _, fn := range fns {
		fn(v.User.Sheet.Device.Endpoint)
	}
}

// follow updates uid's presence from a view of the user.
func (b *Board) follow(uid string, v *config.CallView) {
	if v == nil || v.User == nil || v.User.Sheet == nil {
		return
	}
	s := v.User.Sheet
	b.p.update(uid, func(u *userState) {
		u.dnd = s.DND
		u.offline = s.Device == nil || s.Device.Endpoint == "" || v.Device == config.DeviceOffline
	})
}

func (b *Board) holds(l lease) bool {
	b.leaseMu.Lock()
	defer b.leaseMu.Unlock()
	_, ok := b.leases[l]
	return ok
}

// hold takes the active-call lease of uid for callID beside the call, not before it: the
// call rings without waiting for this write (the call path's one round trip is the
// view's). releaseAll waits for it.
func (b *Board) hold(ctx context.Context, uid, callID string) {
	l := lease{uid, callID}
	b.leaseMu.Lock()
	_, held := b.leases[l]
	if held || b.acquiring[l] != nil {
		b.leaseMu.Unlock()
		return
	}
	done := make(chan struct{})
	b.acquiring[l] = done
	b.leaseMu.Unlock()
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer close(done)
		_, err := b.st.AcquireCall(ctx, uid, callID, b.o.Lease)
		b.leaseMu.Lock()
		delete(b.acquiring, l)
		if err == nil {
			b.leases[l] = struct{}{}
		}
		b.leaseMu.Unlock()
		if err != nil {
			b.m.errors.WithLabelValues("lease").Inc()
			b.log.Warn("acquire call lease", "user", uid, "call_id", callID, "err", err)
		}
	}()
}

// releaseAll gives back the leases of callID, each once it was taken.
func (b *Board) releaseAll(ctx context.Context, callID string, uids []string) {
	for _, uid := range uids {
		l := lease{uid, callID}
		b.leaseMu.Lock()
		done := b.acquiring[l]
		b.leaseMu.Unlock()
		if done != nil {
			<-done
		}
		b.leaseMu.Lock()
		delete(b.leases, l)
		b.leaseMu.Unlock()
		if err := b.st.ReleaseCall(ctx, uid, callID); err != nil {
			b.m.errors.WithLabelValues("release").Inc()
			b.log.Warn("release call lease", "user", uid, "call_id", callID, "err", err)
		}
	}
}

// Leases returns how many active-call leases this board holds now (tests, load tool).
func (b *Board) Leases() int {
	b.leaseMu.Lock()
	defer b.leaseMu.Unlock()
	return len(b.leases)
}

// lookupNumber returns the form of a dialed number to look up: as given, unless it is
// written nationally ("0478000001") and reads in the board's region, then in E.164. The
// number index holds E.164 numbers and extensions only (validation refuses anything
// else), so a national form could never be found: one round trip, not two, for a PBX
// that hands DIDs over nationally.
func (b *Board) lookupNumber(raw string) string {
	if b.o.Region == "" || strings.HasPrefix(raw, "+") {
		return raw // E.164 already (the usual case): no memo lookup
	}
	if n, err := config.NormalizeNumber(raw, b.o.Region); err == nil {
		return n
	}
	return raw
}
