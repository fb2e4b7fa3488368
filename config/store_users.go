package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// decodeStoredSheet decodes a stored sheet (our own JSON; a field a hand edit left out
// keeps DefaultSheet's value).
func decodeStoredSheet(raw string) (*Sheet, error) {
	s := DefaultSheet()
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, err
	}
	s.Voicemail.PINSet = false
	return &s, nil
}

// cloneSheet returns a deep copy of s.
func cloneSheet(s *Sheet) *Sheet {
	data, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("clone sheet: %v", err)) // plain data: cannot fail
	}
	c := DefaultSheet()
	if err := json.Unmarshal(data, &c); err != nil {
		panic(fmt.Sprintf("clone sheet: %v", err))
	}
	c.Voicemail.PINSet = s.Voicemail.PINSet
	return &c
}

// GetUser returns a user's sheet (with voicemail.pin_set), or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*Sheet, error) {
	got, err := s.readUsers(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if got[0].sheet == nil {
		return nil, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	return got[0].sheet, nil
}

// storedUser is a sheet as read: nil and "" when absent.
type storedUser struct {
	sheet *Sheet
	raw   string
}

// readUsers reads several sheets in one round trip.
func (s *Store) readUsers(ctx context.Context, ids []string) ([]storedUser, error) {
	users, _, err := s.readState(ctx, ids, nil)
	return users, err
}

// storedSite is a site as read: nil and "" when absent.
type storedSite struct {
	site *Site
	raw  string
}

// readState reads several sheets (with whether each has a PIN) and several sites in one
// round trip.
func (s *Store) readState(ctx context.Context, ids, siteIDs []string) ([]storedUser, map[string]storedSite, error) {
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(ids))
	pins := make([]*redis.BoolCmd, len(ids))
	for i, id := range ids {
		gets[i] = pipe.Get(ctx, s.keys.User(id))
		pins[i] = pipe.HExists(ctx, s.keys.PINs(), id)
	}
	siteGets := make([]*redis.StringCmd, len(siteIDs))
	for i, id := range siteIDs {
		siteGets[i] = pipe.Get(ctx, s.keys.Site(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	out := make([]storedUser, len(ids))
	for i, id := range ids {
		raw, err := gets[i].Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read user %q: %w", id, err)
		}
		sh, err := decodeStoredSheet(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("decode user %q: %w", id, err)
		}
		sh.Voicemail.PINSet = pins[i].Val()
		out[i] = storedUser{sheet: sh, raw: raw}
	}
	sites := make(map[string]storedSite, len(siteIDs))
	for i, id := range siteIDs {
		raw, err := siteGets[i].Result()
		if errors.Is(err, redis.Nil) {
			sites[id] = storedSite{}
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read site %q: %w", id, err)
		}
		site, err := decodeSite(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("decode site %q: %w", id, err)
		}
		sites[id] = storedSite{site: site, raw: raw}
	}
	return out, sites, nil
}

// PutUser creates (sheet.Version 0) or replaces (sheet.Version = the stored version) a
// whole sheet, normalized and validated against the store, and returns it as stored.
// 0 for a user that exists, or a stale version, is ErrVersionConflict; a version for a
// user that does not exist is ErrNotFound; a refused sheet is a *ValidationError.
func (s *Store) PutUser(ctx context.Context, sheet *Sheet, actor string) (*Sheet, error) {
	out, err := s.writeUsers(ctx, []userWrite{{id: sheet.ID, want: sheet.Version, next: cloneSheet(sheet)}}, actor)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// UpdateUser applies fn to a copy of the stored sheet and stores the result, all or
// nothing: the API's PATCH and the DND/forward shortcuts. With ifVersion 0, a concurrent
// write makes it read again and re-apply fn (fn must be repeatable: no side effects), so
// no update is ever lost; with ifVersion set, the stored version must equal it
// (ErrVersionConflict otherwise). fn may not change the id; an error from fn is returned
// as is and nothing is written.
func (s *Store) UpdateUser(ctx context.Context, id string, ifVersion int64, fn func(*Sheet) error, actor string) (*Sheet, error) {
	out, err := s.UpdateUsers(ctx, []string{id}, func(ss []*Sheet) error {
		if ifVersion != 0 && ss[0].Version != ifVersion {
			return fmt.Errorf("user %q is at version %d, not %d: %w", id, ss[0].Version, ifVersion, ErrVersionConflict)
		}
		return fn(ss[0])
	}, actor)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// UpdateUsers applies fn to copies of several stored sheets (in the order of ids) and
// stores them all in one atomic write, or none: moving a number from one user to another
// is one step. A concurrent write makes it read again and re-apply fn.
func (s *Store) UpdateUsers(ctx context.Context, ids []string, fn func([]*Sheet) error, actor string) ([]*Sheet, error) {
	var out []*Sheet
	err := retryStale(ctx, func() error {
		cur, err := s.readUsers(ctx, ids)
		if err != nil {
			return err
		}
		ws := make([]userWrite, len(ids))
		sheets := make([]*Sheet, len(ids))
		for i, u := range cur {
			if u.sheet == nil {
				return fmt.Errorf("user %q: %w", ids[i], ErrNotFound)
			}
			sheets[i] = cloneSheet(u.sheet)
		}
		if err := fn(sheets); err != nil {
			return err
		}
		for i, sh := range sheets {
			if sh.ID != ids[i] {
				return &ValidationError{Problems: []Problem{{"id", "cannot be changed"}}}
			}
			sh.Version = cur[i].sheet.Version
			ws[i] = userWrite{id: ids[i], want: sh.Version, next: sh}
		}
		out, err = s.writeUsersOnce(ctx, ws, actor, cur)
		return err
	})
	return out, err
}

// DeleteUser deletes a user (version: the stored version, or 0 for any) with its numbers,
// device, site membership, media references and PIN, in one step. Other sheets naming
// the user (user:<id> targets, supervision keys) keep their reference: the next write of
// such a sheet is refused until it is changed, and the engine treats a missing user as
// unreachable.
func (s *Store) DeleteUser(ctx context.Context, id string, version int64, actor string) error {
	want := version
	if want == 0 {
		want = anyVersion
	}
	if _, err := s.writeUsers(ctx, []userWrite{{id: id, want: want}}, actor); err != nil {
		return err
	}
	// Runtime state lives on other slots; the next call would ignore it anyway.
	if err := s.rdb.Del(ctx, s.keys.Device(id)).Err(); err != nil {
		s.log.Warn("delete runtime state of a deleted user", "user", id, "err", err)
	}
	if err := s.rdb.Del(ctx, s.keys.Calls(id)).Err(); err != nil {
		s.log.Warn("delete runtime state of a deleted user", "user", id, "err", err)
	}
	return nil
}

// MoveNumber moves num (normalized) from the user holding it to user to, in one atomic
// write of both sheets. A main number stays a main number if to has none, else it
// becomes an associated callback number; an associated number keeps its label and flags.
// Either sheet still has to validate (a user presenting the number must present another).
func (s *Store) MoveNumber(ctx context.Context, num, to, actor string) error {
	for attempt := 0; ; attempt++ {
		from, err := s.rdb.HGet(ctx, s.keys.Numbers(), num).Result()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("number %s: %w", num, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read owner of %s: %w", num, err)
		}
		if from == to {
			return nil
		}
		_, err = s.UpdateUsers(ctx, []string{from, to}, func(ss []*Sheet) error {
			src, dst := ss[0], ss[1]
			moved := AssociatedNumber{Number: num, Callback: true}
			switch {
			case src.MainNumber == num:
				src.MainNumber = ""
				if dst.MainNumber == "" {
					dst.MainNumber = num
					return nil
				}
			default:
				i := slices.IndexFunc(src.AssociatedNumbers, func(a AssociatedNumber) bool { return a.Number == num })
				if i < 0 {
					return errMoved
				}
				moved = src.AssociatedNumbers[i]
				src.AssociatedNumbers = slices.Delete(src.AssociatedNumbers, i, i+1)
			}
			dst.AssociatedNumbers = append(dst.AssociatedNumbers, moved)
			return nil
		}, actor)
		if errors.Is(err, errMoved) && attempt < maxAttempts {
			continue // the number moved since we looked: look again
		}
		return err
	}
}

var errMoved = errors.New("number moved meanwhile")

// anyVersion is a userWrite.want matching any stored version (but not absence).
const anyVersion = -1

// userWrite is one user's part of a write: next nil deletes. want is the version the
// stored sheet must have: 0 means it must not exist, anyVersion any.
type userWrite struct {
	id   string
	want int64
	next *Sheet
}

// writeUsers applies several users' writes in one atomic step (see Store).
func (s *Store) writeUsers(ctx context.Context, ws []userWrite, actor string) ([]*Sheet, error) {
	seen := map[string]bool{}
	for _, w := range ws {
		if seen[w.id] {
			return nil, fmt.Errorf("write users: %q twice in one write", w.id)
		}
		seen[w.id] = true
	}
	var out []*Sheet
	err := retryStale(ctx, func() (err error) {
		out, err = s.writeUsersOnce(ctx, ws, actor, nil)
		return err
	})
	return out, err
}

// writeUsersOnce makes one attempt: errStale if what it read changed before its script
// ran. olds, when given, are the sheets as the caller read them (else they are read).
func (s *Store) writeUsersOnce(ctx context.Context, ws []userWrite, actor string, olds []storedUser) ([]*Sheet, error) {
	k := s.keys
	// 1. The stored sheets, and the sites the new sheets name, in one round trip.
	ids := make([]string, len(ws))
	var siteIDs []string
	for i, w := range ws {
		ids[i] = w.id
		if w.next != nil {
			w.next.Site = strings.TrimSpace(w.next.Site)
			if w.next.Site == "" {
				w.next.Site = DefaultSiteID
			}
			if ValidID(w.next.Site) && !slices.Contains(siteIDs, w.next.Site) {
				siteIDs = append(siteIDs, w.next.Site)
			}
		}
	}
	readIDs := ids
	if olds != nil {
		readIDs = nil
	}
	read, stored, err := s.readState(ctx, readIDs, siteIDs)
	if err != nil {
		return nil, err
	}
	if olds == nil {
		olds = read
	}
	for i, w := range ws {
		old := olds[i].sheet
		switch {
		case old == nil && w.want != 0:
			return nil, fmt.Errorf("user %q: %w", w.id, ErrNotFound)
		case old != nil && w.want == 0:
			return nil, fmt.Errorf("user %q already exists (version %d): %w", w.id, old.Version, ErrVersionConflict)
		case old != nil && w.want != anyVersion && old.Version != w.want:
			return nil, fmt.Errorf("user %q is at version %d, not %d: %w", w.id, old.Version, w.want, ErrVersionConflict)
		}
	}
	type siteRead struct {
		site          *Site
		raw           string
		createDefault bool
	}
	sites := map[string]*siteRead{}
	for id, st := range stored {
		r := &siteRead{site: st.site, raw: st.raw}
		if st.site == nil && id == DefaultSiteID {
			d := DefaultSite()
			r.site, r.createDefault = &d, true
		}
		sites[id] = r
	}
	siteOf := func(sh *Sheet) *Site {
		if r := sites[sh.Site]; r != nil {
			return r.site
		}
		return nil
	}

	// 2. The facts the new sheets' validation needs, and the owners of the numbers and
	// endpoints the old sheets release.
	batch := map[string]*Sheet{} // id → next sheet (nil: deleted)
	var userRefs, media, nums, eps []string
	addOnce := func(list *[]string, v string) {
		if v != "" && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for i, w := range ws {
		batch[w.id] = w.next
		if old := olds[i].sheet; old != nil {
			for _, n := range old.Numbers() {
				addOnce(&nums, n)
			}
			if old.Device != nil {
				addOnce(&eps, old.Device.Endpoint)
			}
		}
		if w.next == nil {
			continue
		}
		region := DefaultSite().Region
		if site := siteOf(w.next); site != nil {
			region = site.Region
		}
		w.next.Normalize(region)
		w.next.Voicemail.PINSet = false
		r := w.next.Refs()
		for _, u := range r.Users {
			if ValidID(u) {
				addOnce(&userRefs, u)
			}
		}
		for _, m := range r.Media {
			if ValidID(m) {
				addOnce(&media, m)
			}
		}
		for _, n := range r.Numbers {
			addOnce(&nums, n)
		}
		addOnce(&eps, r.Endpoint)
	}
	userRefs = slices.DeleteFunc(userRefs, func(u string) bool { _, in := batch[u]; return in })
	pipe := s.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(userRefs))
	for i, u := range userRefs {
		exists[i] = pipe.Exists(ctx, k.User(u))
	}
	// Who references a user this write deletes: a deleted user must not leave
	// user:<id> targets or supervision keys dangling in other sheets.
	referrers := map[string]*redis.StringSliceCmd{}
	for i, w := range ws {
		if w.next == nil && olds[i].sheet != nil {
			referrers[w.id] = pipe.SMembers(ctx, k.UserRefs(w.id))
		}
	}
	var mediaCmd, numCmd, epCmd *redis.SliceCmd
	if len(media) > 0 {
		mediaCmd = pipe.HMGet(ctx, k.MediaIndex(), media...)
	}
	if len(nums) > 0 {
		numCmd = pipe.HMGet(ctx, k.Numbers(), nums...)
	}
	if len(eps) > 0 {
		epCmd = pipe.HMGet(ctx, k.Devices(), eps...)
	}
	if len(pipe.Cmds()) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read users' references: %w", err)
		}
	}
	facts := &Facts{Users: map[string]bool{}, Media: map[string]bool{}, NumberOwners: map[string]string{}, DeviceOwners: map[string]string{}}
	for i, u := range userRefs {
		facts.Users[u] = exists[i].Val() == 1
	}
	for id, next := range batch {
		facts.Users[id] = next != nil
	}
	owners := func(cmd *redis.SliceCmd, names []string) map[string]string {
		m := map[string]string{}
		if cmd == nil {
			return m
		}
		for i, v := range cmd.Val() {
			if str, ok := v.(string); ok {
				m[names[i]] = str
			}
		}
		return m
	}
	numOwner, epOwner := owners(numCmd, nums), owners(epCmd, eps)
	if mediaCmd != nil {
		for i, v := range mediaCmd.Val() {
			facts.Media[media[i]] = v != nil
		}
	}
	// A number (or endpoint) held by a user of this write who no longer holds it is free.
	for n, owner := range numOwner {
		if next, in := batch[owner]; in && (next == nil || !slices.Contains(next.Numbers(), n)) {
			continue
		}
		facts.NumberOwners[n] = owner
	}
	for e, owner := range epOwner {
		if next, in := batch[owner]; in && (next == nil || next.Device == nil || next.Device.Endpoint != e) {
			continue
		}
		facts.DeviceOwners[e] = owner
	}

	// A referrer that this very write deletes, or edits so that it no longer references
	// the deleted user, does not block.
	var refCounts []string
	for _, w := range ws {
		cmd, deleted := referrers[w.id]
		if !deleted {
			continue
		}
		var blocking []string
		for _, ref := range cmd.Val() {
			if next, in := batch[ref]; in && (next == nil || !slices.Contains(next.Refs().Users, w.id)) {
				continue
			}
			blocking = append(blocking, ref)
		}
		if len(blocking) > 0 {
			slices.Sort(blocking)
			return nil, &InUseError{What: "user " + w.id, Users: blocking[:min(len(blocking), 10)]}
		}
		refCounts = append(refCounts, w.id, strconv.Itoa(len(cmd.Val())))
	}

	// 3. What the write relies on: the script re-checks every fact above.
	t := newTx()
	for i := 0; i < len(refCounts); i += 2 {
		t.check("scard", k.UserRefs(refCounts[i]), "", refCounts[i+1])
	}
	for i, w := range ws {
		t.check("get", k.User(w.id), "", olds[i].raw)
	}
	for id, r := range sites {
		if r.site != nil || id == DefaultSiteID {
			t.check("get", k.Site(id), "", r.raw)
		}
	}
	for _, u := range userRefs {
		t.check("exists", k.User(u), "", boolDigit(facts.Users[u]))
	}
	for _, m := range media {
		t.check("hexists", k.MediaIndex(), m, boolDigit(facts.Media[m]))
	}
	for _, n := range nums {
		t.check("hget", k.Numbers(), n, numOwner[n])
	}
	for _, e := range eps {
		t.check("hget", k.Devices(), e, epOwner[e])
	}
	// 4. Validate every new sheet; two sheets of one write claiming one number is a
	// problem too.
	var ps problems
	claimed, claimedEP := map[string]string{}, map[string]string{}
	for _, w := range ws {
		if w.next == nil {
			continue
		}
		prefix := ""
		if len(ws) > 1 {
			prefix = "users[" + w.id + "]."
		}
		w.next.ID = w.id
		if err := w.next.Validate(siteOf(w.next), facts); err != nil {
			for _, p := range err.(*ValidationError).Problems {
				ps.add(prefix+p.Path, p.Reason)
			}
		}
		for _, n := range w.next.Numbers() {
			if other, dup := claimed[n]; dup {
				ps.addf(prefix+numberPath(w.next, n), "%s already belongs to user %s", n, other)
			}
			claimed[n] = w.id
		}
		if d := w.next.Device; d != nil && d.Endpoint != "" {
			if other, dup := claimedEP[d.Endpoint]; dup {
				ps.addf(prefix+"device.endpoint", "%s already belongs to user %s", d.Endpoint, other)
			}
			claimedEP[d.Endpoint] = w.id
		}
	}
	if err := ps.err(); err != nil {
		// The facts came from several reads: a concurrent write may have made them
		// disagree (a number seen on its new owner's index entry but still in its old
		// owner's sheet). Refuse only on facts that held together.
		if verr := s.verify(ctx, t); verr != nil {
			return nil, verr
		}
		return nil, err
	}

	// A sheet written as it is stored (once normalized) is not written again: no new
	// version, no audit entry, no change published (an import run twice changes nothing).
	changes := make([][]FieldChange, len(ws))
	writes := 0
	for i, w := range ws {
		if old := olds[i].sheet; old != nil && w.next != nil {
			changes[i] = diff(old, w.next, "version", "voicemail.pin_set")
			if len(changes[i]) == 0 {
				continue
			}
		}
		writes++
	}

	// 5. One script: every fact unchanged, then every write. Releases first, so that a
	// number moving within this write ends with its new owner.
	for i, w := range ws {
		old := olds[i].sheet
		if old == nil {
			continue
		}
		var keep []string
		var keepEP string
		var keepMedia, keepUsers []string
		if w.next != nil {
			keep = w.next.Numbers()
			keepMedia = w.next.Refs().Media
			keepUsers = w.next.Refs().Users
			if w.next.Device != nil {
				keepEP = w.next.Device.Endpoint
			}
		}
		for _, n := range old.Numbers() {
			if !slices.Contains(keep, n) && numOwner[n] == w.id {
				t.op("hdel", k.Numbers(), n, "")
			}
		}
		if old.Device != nil && old.Device.Endpoint != keepEP && epOwner[old.Device.Endpoint] == w.id {
			t.op("hdel", k.Devices(), old.Device.Endpoint, "")
		}
		if w.next == nil || w.next.Site != old.Site {
			t.op("zrem", k.SiteUsers(old.Site), w.id, "")
		}
		for _, m := range old.Refs().Media {
			if !slices.Contains(keepMedia, m) {
				t.op("srem", k.MediaUsers(m), w.id, "")
			}
		}
		for _, u := range old.Refs().Users {
			if !slices.Contains(keepUsers, u) {
				t.op("srem", k.UserRefs(u), w.id, "")
			}
		}
		if w.next == nil {
			t.op("del", k.UserRefs(w.id), "", "")
			t.op("del", k.User(w.id), "", "")
			t.op("zrem", k.Users(), w.id, "")
			t.op("hdel", k.PINs(), w.id, "")
		}
	}
	for id, r := range sites {
		if r.createDefault && id == DefaultSiteID {
			s.createDefaultOps(t)
		}
	}
	out := make([]*Sheet, 0, len(ws))
	for i, w := range ws {
		old := olds[i].sheet
		if w.next == nil {
			s.record(t, KindUser, w.id, actor, OpDelete, 0, nil)
			continue
		}
		if old != nil && len(changes[i]) == 0 {
			out = append(out, old)
			continue
		}
		next := w.next
		op, before := OpUpdate, old
		if old == nil {
			op = OpCreate
			d := DefaultSheet()
			d.ID = w.id
			before = &d
			next.Version = 1
		} else {
			next.Version = old.Version + 1
		}
		data, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("marshal user %q: %w", w.id, err)
		}
		t.op("set", k.User(w.id), string(data), "")
		t.op("zadd", k.Users(), w.id, "")
		t.op("zadd", k.SiteUsers(next.Site), w.id, "")
		for _, n := range next.Numbers() {
			t.op("hset", k.Numbers(), n, w.id)
		}
		if next.Device != nil {
			t.op("hset", k.Devices(), next.Device.Endpoint, w.id)
		}
		for _, m := range next.Refs().Media {
			t.op("sadd", k.MediaUsers(m), w.id, "")
		}
		for _, u := range next.Refs().Users {
			t.op("sadd", k.UserRefs(u), w.id, "")
		}
		if old == nil {
			changes[i] = diff(before, next, "version", "voicemail.pin_set")
		}
		s.record(t, KindUser, w.id, actor, op, next.Version, changes[i])
		if old != nil {
			next.Voicemail.PINSet = old.Voicemail.PINSet
		}
		out = append(out, next)
	}
	if writes == 0 {
		return out, nil
	}
	if _, err := s.run(ctx, t); err != nil {
		return nil, err
	}
	return out, nil
}

// numberPath names the field of s holding num.
func numberPath(s *Sheet, num string) string {
	if s.MainNumber == num {
		return "main_number"
	}
	for i, a := range s.AssociatedNumbers {
		if a.Number == num {
			return idx("associated_numbers", i) + ".number"
		}
	}
	return "main_number"
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// UserFilter selects users for ListUsers. Empty fields match everything.
type UserFilter struct {
	Site   string // users of this site
	Name   string // a substring of the name, case-insensitive
	Number string // a number the user holds (main or associated), through the index
	After  string // paging: the last id of the previous page
	Limit  int    // page size: 0 means 50, at most 500
}

// ListUsers returns a page of users ordered by id, and the After of the next page (""
// when this is the last). A number filter is one index lookup; a site filter reads the
// site's own id list; a name filter reads sheets page by page until the page is full.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]*Sheet, string, error) {
	limit := pageLimit(f.Limit)
	nameQ := strings.ToLower(strings.TrimSpace(f.Name))
	match := func(sh *Sheet) bool {
		return (f.Site == "" || sh.Site == f.Site) &&
			(nameQ == "" || strings.Contains(strings.ToLower(sh.Name), nameQ))
	}
	if f.Number != "" {
		uid, err := s.numberOwner(ctx, f.Number, f.Site)
		if err != nil || uid == "" || (f.After != "" && uid <= f.After) {
			return []*Sheet{}, "", err
		}
		sh, err := s.GetUser(ctx, uid)
		if errors.Is(err, ErrNotFound) {
			return []*Sheet{}, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		if !match(sh) {
			return []*Sheet{}, "", nil
		}
		return []*Sheet{sh}, "", nil
	}
	list := s.keys.Users()
	if f.Site != "" {
		list = s.keys.SiteUsers(f.Site)
	}
	out := make([]*Sheet, 0, limit)
	after := f.After
	batch := limit + 1
	if nameQ != "" {
		batch = max(batch, 200)
	}
	for {
		ids, err := s.rdb.ZRangeByLex(ctx, list, &redis.ZRangeBy{Min: lexAfter(after), Max: "+", Count: int64(batch)}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list users: %w", err)
		}
		if len(ids) == 0 {
			return out, "", nil
		}
		got, err := s.readUsers(ctx, ids)
		if err != nil {
			return nil, "", err
		}
		for _, u := range got {
			if u.sheet == nil || !match(u.sheet) {
				continue
			}
			if len(out) == limit {
				return out, out[limit-1].ID, nil // u shows there is more
			}
			out = append(out, u.sheet)
		}
		if len(ids) < batch {
			return out, "", nil
		}
		after = ids[len(ids)-1]
	}
}

// numberOwner returns the id of the user holding num ("" if none), trying num as given,
// then normalized in the region of site (or of the default site).
func (s *Store) numberOwner(ctx context.Context, num, site string) (string, error) {
	try := []string{strings.TrimSpace(num)}
	region := DefaultSite().Region
	if site == "" {
		site = DefaultSiteID
	}
	if st, _, err := s.readSite(ctx, site); err == nil && st != nil {
		region = st.Region
	}
	if n, err := NormalizeNumber(num, region); err == nil && n != try[0] {
		try = append(try, n)
	}
	vals, err := s.rdb.HMGet(ctx, s.keys.Numbers(), try...).Result()
	if err != nil {
		return "", fmt.Errorf("look up number %q: %w", num, err)
	}
	for _, v := range vals {
		if uid, ok := v.(string); ok {
			return uid, nil
		}
	}
	return "", nil
}
