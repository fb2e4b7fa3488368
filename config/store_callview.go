package config

import (
	"context"
	"errors"
	"fmt"
	"net"
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
// number it had before (data restored from an older backup) is seen as changed; the
// cache is also emptied whenever the client dials Redis anew (restart, failover).
//
// KEYS: {P}:numbers, {P}:user:<guessed uid>, {P}:site:<guessed site>
// ARGV: number ("" for a call by user id), guessed uid, cached user "version:length",
// guessed site id, cached site "version:length" ("-" when not cached).
// Answers: {0} no such user (or number); {1, uid} the number belongs to uid, not to the
// guess; {2, site} the user's site is not the guessed one; {3, user JSON or "" when the
// cached version is current, site JSON or "" likewise, 1 if the site exists else 0}.
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
return {3, ujson, sjson, present}
`)

// viewEntry is one user's compiled sheet as of the versions it was read at. Entries are
// never modified once cached: a change makes a new one.
type viewEntry struct {
	uid                                string
	sheetRaw, siteRaw                  string // the JSON they were decoded from
	userVer, siteVer, siteID           string
	c                                  *Compiled
	userKey, siteKey, devKey, callsKey string
}

// viewCache holds the compiled sheets of the call path, by user id, and the last owner
// seen for each number called.
type viewCache struct {
	mu      sync.RWMutex
	users   map[string]*viewEntry
	numbers map[string]string
}

func (v *viewCache) init() {
	v.users = map[string]*viewEntry{}
	v.numbers = map[string]string{}
}

// flush empties the cache (the client dialed Redis anew: its data may have changed
// behind the versions the cache holds).
func (v *viewCache) flush() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.init()
}

// flushOnDial is a go-redis hook emptying the cache when a connection is dialed.
type flushOnDial struct{ v *viewCache }

func (h flushOnDial) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err == nil {
			h.v.flush()
		}
		return conn, err
	}
}
func (flushOnDial) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (flushOnDial) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (v *viewCache) lookup(num, uid string) (string, *viewEntry) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if num != "" {
		uid = v.numbers[num]
	}
	return uid, v.users[uid]
}

func (v *viewCache) get(uid string) *viewEntry {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.users[uid]
}

func (v *viewCache) put(num string, e *viewEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.users[e.uid] = e
	if num != "" {
		v.numbers[num] = e.uid
	}
}

func (v *viewCache) forget(num, uid string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if num != "" {
		delete(v.numbers, num)
	} else {
		delete(v.users, uid)
	}
}

// CallView returns what a call to user uid needs (its compiled sheet, device state and
// active calls), or ErrNotFound. See CallViewByNumber for the cost.
func (s *Store) CallView(ctx context.Context, uid string) (*CallView, error) {
	if uid == "" {
		return nil, fmt.Errorf("user %q: %w", uid, ErrNotFound)
	}
	return s.callView(ctx, "", uid)
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
	if num == "" {
		return nil, fmt.Errorf("number %q: %w", num, ErrNotFound)
	}
	return s.callView(ctx, num, "")
}

func (s *Store) callView(ctx context.Context, num, uid string) (*CallView, error) {
	guess, e := s.views.lookup(num, uid)
	firstGuess := guess
	siteGuess := ""
	loaded := false
	for attempt := 0; attempt < 6; attempt++ {
		userKey, siteKey, uver, siteID, sver := "", "", "-", DefaultSiteID, "-"
		devKey, callsKey := "", ""
		if e != nil {
			userKey, siteKey, uver, siteID, sver = e.userKey, e.siteKey, e.userVer, e.siteID, e.siteVer
			devKey, callsKey = e.devKey, e.callsKey
		} else {
			userKey = s.keys.User(guess)
			devKey, callsKey = s.keys.Device(guess), s.keys.Calls(guess)
		}
		if siteGuess != "" && siteGuess != siteID {
			siteID, sver, siteKey = siteGuess, "-", ""
		}
		if siteKey == "" {
			siteKey = s.keys.Site(siteID)
		}
		pipe := s.rdb.Pipeline()
		keys := []string{s.keys.Numbers(), userKey, siteKey}
		var ev *redis.Cmd
		if s.noEvalRO.Load() {
			ev = viewScript.EvalSha(ctx, pipe, keys, num, guess, uver, siteID, sver)
		} else {
			// Read-only: a replica may serve it, and the embedded store need not journal it.
			ev = viewScript.EvalShaRO(ctx, pipe, keys, num, guess, uver, siteID, sver)
		}
		var dev *redis.SliceCmd
		var calls *redis.IntCmd
		if guess != "" {
			dev = pipe.HMGet(ctx, devKey, "state", "at", "endpoint")
			calls = pipe.ZCount(ctx, callsKey, "("+strconv.FormatInt(s.now().UnixMilli(), 10), "+inf")
		}
		_, err := pipe.Exec(ctx)
		if err != nil {
			if redis.HasErrorPrefix(ev.Err(), "NOSCRIPT") && !loaded {
				loaded = true
				if err := viewScript.Load(ctx, s.rdb).Err(); err != nil {
					return nil, fmt.Errorf("load call-view script: %w", err)
				}
				attempt--
				continue
			}
			if isUnknownCommand(ev.Err()) && !s.noEvalRO.Load() {
				s.noEvalRO.Store(true) // Redis before 7.0: no EVALSHA_RO
				attempt--
				continue
			}
			return nil, fmt.Errorf("read call view of %s: %w", who(num, uid), err)
		}
		res, ok := ev.Val().([]any)
		if !ok || len(res) == 0 {
			return nil, fmt.Errorf("read call view of %s: unexpected answer %v", who(num, uid), ev.Val())
		}
		switch res[0] {
		case int64(0):
			s.views.forget(num, guess)
			return nil, fmt.Errorf("%s: %w", who(num, uid), ErrNotFound)
		case int64(1):
			guess, _ = res[1].(string)
			e, siteGuess = s.views.get(guess), ""
			continue
		case int64(2):
			siteGuess, _ = res[1].(string)
			continue
		case int64(3):
		default:
			return nil, fmt.Errorf("read call view of %s: unexpected answer %v", who(num, uid), res)
		}
		if len(res) != 4 {
			return nil, fmt.Errorf("read call view of %s: unexpected answer %v", who(num, uid), res)
		}
		ujson, _ := res[1].(string)
		sjson, _ := res[2].(string)
		present, _ := res[3].(int64)
		next, retrySite, err := s.refresh(e, guess, siteID, ujson, sjson, present == 1)
		if err != nil {
			return nil, fmt.Errorf("call view of %s: %w", who(num, uid), err)
		}
		if retrySite != "" {
			siteGuess = retrySite
			continue
		}
		if next != e || guess != firstGuess {
			s.views.put(num, next)
		}
		if num != "" && !next.c.Sheet.Routes(num) {
			return nil, fmt.Errorf("%s: held by user %s but does not route to it: %w", who(num, uid), guess, ErrNotFound)
		}
		v := &CallView{User: next.c}
		if dev != nil {
			v.Device, v.DeviceAt = deviceState(dev.Val(), next.c.Sheet)
			v.ActiveCalls = int(calls.Val())
		}
		return v, nil
	}
	return nil, fmt.Errorf("read call view of %s: the number or user kept moving; try again", who(num, uid))
}

func isUnknownCommand(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "unknown command")
}

func who(num, uid string) string {
	if num != "" {
		return "number " + num
	}
	return "user " + uid
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
