package config

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// viewScript answers, on the {P} slot, who a call is for and whether the caller's cached
// copy of that user's sheet and site is current, without sending either back when it is.
// The versions are read from the stored JSON's prefix (Sheet and Site marshal "version"
// right after "id" and "site", whose values never hold a quote): no decoding in Lua. A
// cached copy is named "<version>:<JSON length>", so that a sheet rewritten at a version
// number it had before (data restored from an older backup) is seen as changed. The
// answer carries the data set's epoch ({P}:epoch): an entry cached in another epoch (a
// wiped Redis whose sheets were written again, their versions starting over) is read
// afresh.
//
// KEYS: the index ({P}:numbers or {P}:devices), {P}:user:<guessed uid>,
// {P}:site:<guessed site>, {P}:epoch
// ARGV: the index's field (a number, a device endpoint; "" for a call by user id),
// guessed uid, cached user "version:length", guessed site id, cached site
// "version:length" ("-" when not cached).
// Answers: {0} no such user (or number, or device); {1, uid} the field belongs to uid,
// not to the guess; {2, site} the user's site is not the guessed one; {3, user JSON or ""
// when the cached version is current, site JSON or "" likewise, 1 if the site exists
// else 0, the epoch or ""}.
var viewScript = redis.NewScript(`
local uid = ARGV[2]
if ARGV[1] ~= '' then
  local owner = redis.call('HGET', KEYS[1], ARGV[1])
  if not owner then return {0} end
  if owner ~= uid then return {1, owner} end
end
local u = redis.call('GET', KEYS[2])
if not u then return {0} end
local site, uver = string.match(u, '^{"id":"[^"]*","site":"([^"]*)","version":(%d+)')
if site and site ~= ARGV[4] then return {2, site} end
local s = redis.call('GET', KEYS[3])
local sver = s and string.match(s, '^{"id":"[^"]*","version":(%d+)')
local ujson, sjson = '', ''
if not uver or uver .. ':' .. #u ~= ARGV[3] then ujson = u end
if s and (not sver or sver .. ':' .. #s ~= ARGV[5]) then sjson = s end
local present = 0
if s then present = 1 end
return {3, ujson, sjson, present, redis.call('GET', KEYS[4]) or ''}
`)

// viewIndex is how a call view is found: by user id, or through one of the {P} indexes.
type viewIndex uint8

const (
	byUser   viewIndex = iota // the user id itself
	byNumber                  // {P}:numbers: a number the user receives calls at
	byDevice                  // {P}:devices: the endpoint of the user's device
)

// viewEntry is one user's compiled sheet as of the versions it was read at. Entries are
// never modified once cached: a change makes a new one.
type viewEntry struct {
	uid                                string
	sheetRaw, siteRaw                  string // the JSON they were decoded from
	userVer, siteVer, siteID           string
	c                                  *Compiled
	userKey, siteKey, devKey, callsKey string
	epoch                              string // the data set's epoch it was read in
}

// viewCache holds the compiled sheets of the call path, by user id, and the last owner
// seen for each number called and each device calling.
type viewCache struct {
	mu     sync.RWMutex
	users  map[string]*viewEntry
	owners [byDevice + 1]map[string]string // by index: number or endpoint → user id
	// lastSite is the site of the last user cached: the guess for a user not cached yet
	// (most installs have one site, seldom "default"), which saves a cold read the
	// round trip a wrong site guess costs.
	lastSite string
}

func (v *viewCache) init() {
	v.users = map[string]*viewEntry{}
	v.owners[byNumber] = map[string]string{}
	v.owners[byDevice] = map[string]string{}
	v.lastSite = DefaultSiteID
}

// lookup returns the user key belongs to, as last seen, and its cached entry.
func (v *viewCache) lookup(by viewIndex, key string) (string, *viewEntry) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	uid := key
	if by != byUser {
		uid = v.owners[by][key]
	}
	return uid, v.users[uid]
}

func (v *viewCache) siteHint() string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.lastSite
}

func (v *viewCache) get(uid string) *viewEntry {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.users[uid]
}

func (v *viewCache) put(by viewIndex, key string, e *viewEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.users[e.uid] = e
	v.lastSite = e.siteID
	if by != byUser {
		v.owners[by][key] = e.uid
	}
}

func (v *viewCache) forget(by viewIndex, key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if by == byUser {
		delete(v.users, key)
	} else {
		delete(v.owners[by], key)
	}
}

// CallView returns what a call to user uid needs (its compiled sheet, device state and
// active calls), or ErrNotFound. See CallViewByNumber for the cost.
func (s *Store) CallView(ctx context.Context, uid string) (*CallView, error) {
	return s.callView(ctx, byUser, uid)
}

// CallViewByNumber returns what a call to num (E.164 or an internal extension, as
// NormalizeNumber gives it) needs, or ErrNotFound when no user holds num or num does not
// route to its user (an associated number not marked callback).
//
// Cost, in the steady state (this process has read the user since its last change): ONE
// network round trip, a pipeline of three commands: EVALSHA of viewScript on the {P}
// slot (HGET {P}:numbers, GET of the user and site JSON inside Redis, answering a few
// bytes since the cached versions are current), HMGET P:rt:{uid}:device (3 fields) and
// ZCOUNT P:rt:{uid}:calls (now, +inf). Under Cluster the three go to their slots' nodes
// in parallel. No decoding, no compiling: the Compiled sheet comes from the cache.
//
// After a change of the sheet or its site, the same round trip brings the new JSON back
// and it is decoded and compiled once. A second round trip (rarely a third) happens only
// when the number moved to another user, the user changed site, or the process has never
// seen the number (cold cache). NOSCRIPT (a restarted or failed-over Redis) costs one
// SCRIPT LOAD and a retry.
//
// The returned CallView.User is shared by every caller: read it, never modify it.
func (s *Store) CallViewByNumber(ctx context.Context, num string) (*CallView, error) {
	return s.callView(ctx, byNumber, num)
}

// CallViewByDevice returns what a call placed from device endpoint (as the sheet stores
// it: "PJSIP/alice") needs: its user's compiled sheet, device state and active calls; or
// ErrNotFound when no sheet holds the endpoint. It is CallViewByNumber through the
// {P}:devices index, at the same cost: one round trip in the steady state, a second only
// when the device moved to another user, the user changed site, or the process has never
// seen the device.
func (s *Store) CallViewByDevice(ctx context.Context, endpoint string) (*CallView, error) {
	return s.callView(ctx, byDevice, endpoint)
}

// OutboundView is what an outbound call needs, read in one round trip
// (Store.OutboundView).
type OutboundView struct {
	Caller *CallView // the user holding the device the call comes from
	// Number is the number read along with the caller ("" when none was). Callee and
	// CalleeErr are what CallViewByNumber(Number) answered in the same round trip: the
	// view of the user Number reaches, or an error (wrapping ErrNotFound for a number no
	// user receives calls at: a call outside).
	Number    string
	Callee    *CallView
	CalleeErr error
}

// OutboundView reads what a call placed from device endpoint needs: the caller's view
// (CallViewByDevice) and, pipelined with it, the view of the user the call is expected
// to reach (CallViewByNumber), so that a call to a colleague (the caller's outbound,
// then the callee's inbound) or outside costs one round trip in the steady state.
//
// Which number is dialed depends on the caller's sheet (short numbers, the site's
// region), which the round trip is reading: dest is given the caller's compiled sheet as
// this process last read it (a change behind, at worst) and returns the number the call
// will reach, or "" for none. dest is not called when the process has never read the
// caller (cold cache): then only the caller is read. The guess may be wrong (the sheet
// changed): use Callee only when Number is the number decided from Caller, else look the
// number up.
//
// The error is the caller's: ErrNotFound when no sheet holds the endpoint.
func (s *Store) OutboundView(ctx context.Context, endpoint string, dest func(caller *Compiled) string) (*OutboundView, error) {
	num := ""
	if _, e := s.views.lookup(byDevice, endpoint); e != nil && dest != nil {
		num = dest(e.c)
	}
	// A read with no key (no number guessed) ends at once, with no command sent.
	caller, callee := viewRead{by: byDevice, key: endpoint}, viewRead{by: byNumber, key: num}
	s.readViews(ctx, &caller, &callee)
	if caller.err != nil {
		return nil, caller.err
	}
	ov := &OutboundView{Caller: caller.view, Number: num}
	if num != "" {
		ov.Callee, ov.CalleeErr = callee.view, callee.err
	}
	return ov, nil
}

func (s *Store) callView(ctx context.Context, by viewIndex, key string) (*CallView, error) {
	r := viewRead{by: by, key: key}
	s.readViews(ctx, &r)
	return r.view, r.err
}

// viewRead is one call view being read by readViews: what it is looked up by, what the
// attempts so far taught, the commands of the attempt in flight, and the outcome.
type viewRead struct {
	by  viewIndex
	key string // the user id, number or endpoint

	guess, firstGuess string     // the user key belongs to, as far as known; first: the cache's
	e                 *viewEntry // the cached entry of guess
	siteGuess         string     // the site the script last said the user is in
	siteID            string     // the site the attempt in flight reads

	ev    *redis.Cmd
	dev   *redis.SliceCmd
	calls *redis.IntCmd

	done bool
	view *CallView
	err  error
}

func (r *viewRead) String() string {
	switch r.by {
	case byNumber:
		return "number " + r.key
	case byDevice:
		return "device " + r.key
	}
	return "user " + r.key
}

func (r *viewRead) fail(err error) { r.done, r.view, r.err = true, nil, err }

// maxViewAttempts bounds the round trips of one read: each retry follows a key that
// moved (to another user, to another site) while it was read.
const maxViewAttempts = 6

// readViews reads every view of reads in one pipelined round trip in the steady state,
// following each one's own moves (another owner, another site) in further round trips
// that carry only the reads not yet settled. Each read ends done, with its view or its
// error.
func (s *Store) readViews(ctx context.Context, reads ...*viewRead) {
	for _, r := range reads {
		if r.key == "" {
			r.fail(fmt.Errorf("%s: %w", r.String(), ErrNotFound))
			continue
		}
		r.guess, r.e = s.views.lookup(r.by, r.key)
		r.firstGuess = r.guess
	}
	loaded := false
	for attempt := 0; attempt < maxViewAttempts && !allDone(reads); {
		pipe := s.rdb.Pipeline()
		for _, r := range reads {
			if !r.done {
				s.queueView(ctx, pipe, r)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			retry, err := s.scriptTrouble(ctx, reads, &loaded)
			if err != nil {
				for _, r := range reads {
					if !r.done {
						r.fail(err)
					}
				}
				return
			}
			if retry {
				continue // the script is loaded, or EVALSHA replaces EVALSHA_RO: not an attempt
			}
		}
		attempt++
		for _, r := range reads {
			if !r.done {
				s.settleView(r)
			}
		}
	}
	for _, r := range reads {
		if !r.done {
			r.fail(fmt.Errorf("read call view of %s: it kept moving; try again", r.String()))
		}
	}
}

func allDone(reads []*viewRead) bool {
	for _, r := range reads {
		if !r.done {
			return false
		}
	}
	return true
}

// queueView adds one attempt of r to pipe: the script on the {P} slot, and the device
// state and active calls of the guessed user on its own slot.
func (s *Store) queueView(ctx context.Context, pipe redis.Pipeliner, r *viewRead) {
	userKey, siteKey, uver, siteID, sver := "", "", "-", DefaultSiteID, "-"
	devKey, callsKey := "", ""
	if r.e != nil {
		userKey, siteKey, uver, siteID, sver = r.e.userKey, r.e.siteKey, r.e.userVer, r.e.siteID, r.e.siteVer
		devKey, callsKey = r.e.devKey, r.e.callsKey
	} else {
		userKey, siteID = s.keys.User(r.guess), s.views.siteHint()
		devKey, callsKey = s.keys.Device(r.guess), s.keys.Calls(r.guess)
	}
	if r.siteGuess != "" && r.siteGuess != siteID {
		siteID, sver, siteKey = r.siteGuess, "-", ""
	}
	if siteKey == "" {
		siteKey = s.keys.Site(siteID)
	}
	r.siteID = siteID
	field := r.key
	if r.by == byUser {
		field = "" // the script skips the index
	}
	keys := []string{s.viewIndexes[r.by], userKey, siteKey, s.epochKey}
	if s.noEvalRO.Load() {
		r.ev = viewScript.EvalSha(ctx, pipe, keys, field, r.guess, uver, siteID, sver)
	} else {
		// Read-only: a replica may serve it, and the embedded store need not journal it.
		r.ev = viewScript.EvalShaRO(ctx, pipe, keys, field, r.guess, uver, siteID, sver)
	}
	r.dev, r.calls = nil, nil
	if r.guess != "" {
		r.dev = pipe.HMGet(ctx, devKey, "state", "at", "endpoint")
		r.calls = pipe.ZCount(ctx, callsKey, "("+strconv.FormatInt(s.now().UnixMilli(), 10), "+inf")
	}
}

// scriptTrouble handles a failed pipeline whose script the server could not run:
// NOSCRIPT (a restarted or failed-over Redis: load it once and retry) or no EVALSHA_RO
// (Redis before 7.0: use EVALSHA from now on and retry). retry is false for any other
// failure, which the reads report themselves.
func (s *Store) scriptTrouble(ctx context.Context, reads []*viewRead, loaded *bool) (retry bool, err error) {
	for _, r := range reads {
		if r.done {
			continue
		}
		switch evErr := r.ev.Err(); {
		case redis.HasErrorPrefix(evErr, "NOSCRIPT") && !*loaded:
			*loaded = true
			if err := viewScript.Load(ctx, s.rdb).Err(); err != nil {
				return false, fmt.Errorf("load call-view script: %w", err)
			}
			return true, nil
		case isUnknownCommand(evErr) && !s.noEvalRO.Load():
			s.noEvalRO.Store(true)
			return true, nil
		}
	}
	return false, nil
}

// settleView reads the answers of r's attempt: r is done (a view or an error), or knows
// what to read next (another owner, another site).
func (s *Store) settleView(r *viewRead) {
	err := r.ev.Err()
	if err == nil && r.dev != nil {
		err = cmp.Or(r.dev.Err(), r.calls.Err())
	}
	if err != nil {
		r.fail(fmt.Errorf("read call view of %s: %w", r.String(), err))
		return
	}
	res, ok := r.ev.Val().([]any)
	if !ok || len(res) == 0 {
		r.fail(fmt.Errorf("read call view of %s: unexpected answer %v", r.String(), r.ev.Val()))
		return
	}
	switch res[0] {
	case int64(0):
		s.views.forget(r.by, r.key)
		r.fail(fmt.Errorf("%s: %w", r.String(), ErrNotFound))
		return
	case int64(1):
		r.guess, _ = res[1].(string)
		r.e, r.siteGuess = s.views.get(r.guess), ""
		return
	case int64(2):
		r.siteGuess, _ = res[1].(string)
		return
	case int64(3):
	default:
		r.fail(fmt.Errorf("read call view of %s: unexpected answer %v", r.String(), res))
		return
	}
	if len(res) != 5 {
		r.fail(fmt.Errorf("read call view of %s: unexpected answer %v", r.String(), res))
		return
	}
	ujson, _ := res[1].(string)
	sjson, _ := res[2].(string)
	present, _ := res[3].(int64)
	epoch, _ := res[4].(string)
	if r.e != nil && r.e.epoch != epoch {
		// The versions were compared with a copy from another data set: read afresh.
		r.e, r.siteGuess = nil, ""
		return
	}
	next, retrySite, err := s.refresh(r.e, r.guess, r.siteID, ujson, sjson, present == 1)
	if err != nil {
		r.fail(fmt.Errorf("call view of %s: %w", r.String(), err))
		return
	}
	if retrySite != "" {
		r.siteGuess = retrySite
		return
	}
	if next != r.e {
		next.epoch = epoch // a new entry, not shared yet
	}
	if next != r.e || r.guess != r.firstGuess {
		s.views.put(r.by, r.key, next)
	}
	sheet := next.c.Sheet
	switch {
	case r.by == byNumber && !sheet.Routes(r.key):
		r.fail(fmt.Errorf("%s: held by user %s but does not route to it: %w", r.String(), r.guess, ErrNotFound))
		return
	case r.by == byDevice && (sheet.Device == nil || sheet.Device.Endpoint != r.key):
		// The index and the sheet are written together; only a hand edit parts them.
		r.fail(fmt.Errorf("%s: indexed to user %s, whose sheet names another device: %w", r.String(), r.guess, ErrNotFound))
		return
	}
	v := &CallView{User: next.c}
	if r.dev != nil {
		v.Device, v.DeviceAt = deviceState(r.dev.Val(), sheet)
		v.ActiveCalls = int(r.calls.Val())
	}
	r.done, r.view = true, v
}

func isUnknownCommand(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "unknown command")
}

// refresh returns the entry for uid given the script's answer: e itself when nothing
// changed, else a new entry with the sheet recompiled. retrySite is set when the stored
// sheet names another site than the one read (a hand-edited JSON the script could not
// read the site from).
func (s *Store) refresh(e *viewEntry, uid, siteID, ujson, sjson string, sitePresent bool) (next *viewEntry, retrySite string, err error) {
	if e != nil && e.uid != uid {
		e = nil
	}
	var sheet *Sheet
	sheetRaw := ""
	switch {
	case ujson == "" && e != nil:
		sheet, sheetRaw = e.c.Sheet, e.sheetRaw
	case ujson == "":
		return nil, "", errors.New("no sheet in the answer and none cached")
	case e != nil && ujson == e.sheetRaw:
		sheet, sheetRaw = e.c.Sheet, e.sheetRaw
	default:
		if sheet, err = decodeStoredSheet(ujson); err != nil {
			return nil, "", fmt.Errorf("decode sheet: %w", err)
		}
		sheetRaw = ujson
	}
	if sheet.Site != siteID {
		return nil, sheet.Site, nil
	}
	sameSite := e != nil && e.siteID == siteID
	var site *Site
	siteRaw := ""
	switch {
	case !sitePresent && siteID != DefaultSiteID:
		return nil, "", fmt.Errorf("site %q of user %q does not exist", siteID, uid)
	case !sitePresent && sameSite && e.siteRaw == "":
		site = e.c.Site
	case !sitePresent: // the default site, never written yet: its defaults
		d := DefaultSite()
		site = &d
	case sjson == "" && sameSite:
		site, siteRaw = e.c.Site, e.siteRaw
	case sjson == "":
		return nil, "", errors.New("no site in the answer and none cached")
	case sameSite && sjson == e.siteRaw:
		site, siteRaw = e.c.Site, e.siteRaw
	default:
		if site, err = decodeSite(sjson); err != nil {
			return nil, "", fmt.Errorf("decode site %q: %w", siteID, err)
		}
		siteRaw = sjson
	}
	if e != nil && e.c.Sheet == sheet && e.c.Site == site {
		return e, "", nil
	}
	c, err := Compile(sheet, site)
	if err != nil {
		return nil, "", err
	}
	return &viewEntry{
		uid: uid, sheetRaw: sheetRaw, siteRaw: siteRaw,
		userVer: strconv.FormatInt(sheet.Version, 10) + ":" + strconv.Itoa(len(sheetRaw)),
		siteVer: strconv.FormatInt(site.Version, 10) + ":" + strconv.Itoa(len(siteRaw)),
		siteID:  siteID, c: c,
		userKey: s.keys.User(uid), siteKey: s.keys.Site(siteID),
		devKey: s.keys.Device(uid), callsKey: s.keys.Calls(uid),
	}, "", nil
}

// deviceState reads an HMGET state, at, endpoint answer. A state reported for another
// endpoint than the sheet's device (the device was changed since) is unknown.
func deviceState(vals []any, sheet *Sheet) (DeviceState, time.Time) {
	if len(vals) != 3 || sheet.Device == nil {
		return DeviceUnknown, time.Time{}
	}
	state, _ := vals[0].(string)
	at, _ := vals[1].(string)
	ep, _ := vals[2].(string)
	if ep != sheet.Device.Endpoint {
		return DeviceUnknown, time.Time{}
	}
	var t time.Time
	if ms, err := strconv.ParseInt(at, 10, 64); err == nil {
		t = time.UnixMilli(ms)
	}
	switch state {
	case "online":
		return DeviceOnline, t
	case "offline":
		return DeviceOffline, t
	}
	return DeviceUnknown, t
}
