package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

const bobJSON = `{"id": "bob", "site": "lyon", "name": "Bob", "main_number": "+33478000002",
	"device": {"id": "desk-bob", "endpoint": "PJSIP/bob"}}`

func TestUserRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.lyon(t)
	e.put(t, bobJSON)
	data, err := os.ReadFile("testdata/sheet-good.json")
	if err != nil {
		t.Fatal(err)
	}
	in := sheet(t, string(data))
	in.Version = 0
	got, err := e.st.PutUser(ctx, in, "admin")
	if err != nil {
		t.Fatalf("PutUser(alice): %v", err)
	}
	if got.Version != 1 || got.AssociatedNumbers[0].Number != "+33612345678" {
		t.Errorf("stored version %d, number %q: want 1 and the normalized +33612345678", got.Version, got.AssociatedNumbers[0].Number)
	}
	read, err := e.st.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, got) {
		t.Errorf("GetUser = %+v\nwant what PutUser returned %+v", read, got)
	}

	// Every index holds the sheet.
	wantNumbers := map[string]string{"+33478000001": "alice", "+33612345678": "alice", "+33478000011": "alice", "+33478000002": "bob"}
	if got := e.hash(t, e.keys.Numbers()); !reflect.DeepEqual(got, wantNumbers) {
		t.Errorf("numbers index = %v, want %v", got, wantNumbers)
	}
	if got := e.hash(t, e.keys.Devices()); !reflect.DeepEqual(got, map[string]string{"PJSIP/alice": "alice", "PJSIP/bob": "bob"}) {
		t.Errorf("devices index = %v", got)
	}
	if got := e.zset(t, e.keys.SiteUsers("lyon")); !reflect.DeepEqual(got, []string{"alice", "bob"}) {
		t.Errorf("site-users:lyon = %v", got)
	}
	if got := e.set(t, e.keys.MediaUsers("busy-fr")); !reflect.DeepEqual(got, []string{"alice"}) {
		t.Errorf("media-users:busy-fr = %v", got)
	}

	// Optimistic concurrency: create over an existing user, stale and future versions.
	again := *in
	if _, err := e.st.PutUser(ctx, &again, "admin"); !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("PutUser version 0 over an existing user: %v, want ErrVersionConflict", err)
	}
	got.Comment = "second"
	v2, err := e.st.PutUser(ctx, got, "admin")
	if err != nil || v2.Version != 2 {
		t.Fatalf("PutUser at the stored version: %v, version %v", err, v2)
	}
	got.Comment = "stale"
	if _, err := e.st.PutUser(ctx, got, "admin"); !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("PutUser with stale version 1: %v, want ErrVersionConflict", err)
	}
	ghost := sheet(t, `{"id": "ghost", "name": "Ghost", "version": 4, "presented_number": {"mode": "anonymous"}}`)
	if _, err := e.st.PutUser(ctx, ghost, "admin"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("PutUser version 4 of a missing user: %v, want ErrNotFound", err)
	}
	if _, err := e.st.GetUser(ctx, "ghost"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("GetUser(ghost): %v, want ErrNotFound", err)
	}
}

func TestPutUserValidatesAgainstTheStore(t *testing.T) {
	e := newEnv(t)
	e.lyon(t)
	e.put(t, bobJSON)
	_, err := e.st.PutUser(ctx, sheet(t, `{"id": "carol", "site": "lyon", "name": "Carol",
		"main_number": "04 78 00 00 02", "device": {"id": "d", "endpoint": "PJSIP/bob"},
		"audio": {"busy": "nope"}, "forwards": {"busy": {"enabled": true, "target": "user:zoe"}}}`), "admin")
	want := []string{
		"main_number: +33478000002 already belongs to user bob",
		"device.endpoint: PJSIP/bob already belongs to user bob",
		`audio.busy: no media "nope" in the library`,
		`forwards.busy.target: no user "zoe"`,
	}
	if got := problemsOf(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	_, err = e.st.PutUser(ctx, sheet(t, `{"id": "dan", "site": "paris", "name": "Dan", "presented_number": {"mode": "anonymous"}}`), "admin")
	if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{`site: no site "paris"`}) {
		t.Errorf("problems: %q", got)
	}
	// Nothing of the refused sheets was written.
	if n := len(e.hash(t, e.keys.Numbers())); n != 1 {
		t.Errorf("numbers index has %d entries, want bob's 1", n)
	}
}

// TestUpdateUserNoLostUpdate: 50 goroutines each add 1 to a field through UpdateUser;
// every increment lands.
func TestUpdateUserNoLostUpdate(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id": "alice", "name": "Alice", "main_number": "+33478000001", "voicemail": {"max_messages": 100}}`)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error {
				s.Voicemail.MaxMessages++
				return nil
			}, "writer-"+strconv.Itoa(i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateUser: %v", err)
		}
	}
	got, err := e.st.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Voicemail.MaxMessages != 100+n || got.Version != 1+n {
		t.Errorf("max_messages %d at version %d, want %d at %d", got.Voicemail.MaxMessages, got.Version, 100+n, 1+n)
	}
	// ifVersion pins the version: a stale one is a conflict and fn never runs.
	_, err = e.st.UpdateUser(ctx, "alice", 3, func(*config.Sheet) error {
		t.Error("fn ran on a version conflict")
		return nil
	}, "admin")
	if !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("UpdateUser(ifVersion 3): %v, want ErrVersionConflict", err)
	}
	// fn's error comes back as is, and nothing is written.
	boom := errors.New("boom")
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(*config.Sheet) error { return boom }, "admin"); !errors.Is(err, boom) {
		t.Errorf("UpdateUser with a failing fn: %v", err)
	}
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.ID = "eve"; return nil }, "admin"); err == nil {
		t.Error("UpdateUser renamed the user")
	}
}

// TestConcurrentClaims: many writers create users claiming one number at once: exactly
// one wins, every other gets the validation problem naming the winner.
func TestConcurrentClaims(t *testing.T) {
	e := newEnv(t)
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.st.PutUser(ctx, sheet(t, fmt.Sprintf(`{"id": "u%d", "name": "U", "main_number": "+33478000042"}`, i)), "test")
		}()
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		if err == nil {
			if winner != "" {
				t.Fatalf("two writers won the number: %s and u%d", winner, i)
			}
			winner = "u" + strconv.Itoa(i)
		}
	}
	if winner == "" {
		t.Fatal("no writer won")
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		want := []string{"main_number: +33478000042 already belongs to user " + winner}
		if got := problemsOf(t, err); !reflect.DeepEqual(got, want) {
			t.Errorf("u%d: %q, want %q", i, got, want)
		}
	}
	if got := e.hash(t, e.keys.Numbers()); !reflect.DeepEqual(got, map[string]string{"+33478000042": winner}) {
		t.Errorf("numbers index = %v", got)
	}
}

// TestNumberMoves: goroutines move numbers between users at random, in one atomic write
// each; at the end every number is in exactly one sheet and the index agrees.
func TestNumberMoves(t *testing.T) {
	e := newEnv(t)
	users := []string{"ann", "ben", "cat", "dov"}
	var numbers []string
	for i, u := range users {
		var assoc []string
		for j := range 3 {
			num := fmt.Sprintf("+336123450%d%d", i, j)
			numbers = append(numbers, num)
			assoc = append(assoc, fmt.Sprintf(`{"number": %q, "callback": true}`, num))
		}
		e.put(t, fmt.Sprintf(`{"id": %q, "name": "N", "main_number": "+3347800010%d", "associated_numbers": [%s]}`, u, i, strings.Join(assoc, ",")))
	}
	const workers, moves = 6, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range moves {
				num, to := numbers[r.IntN(len(numbers))], users[r.IntN(len(users))]
				if err := e.st.MoveNumber(ctx, num, to, "mover"); err != nil {
					t.Errorf("MoveNumber(%s → %s): %v", num, to, err)
				}
			}
		}()
	}
	wg.Wait()
	index := e.hash(t, e.keys.Numbers())
	held := map[string]string{}
	for _, u := range users {
		s, err := e.st.GetUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range s.Numbers() {
			if other, dup := held[n]; dup {
				t.Errorf("%s is in the sheets of %s and %s", n, other, u)
			}
			held[n] = u
		}
	}
	if !reflect.DeepEqual(index, held) {
		t.Errorf("index %v\nsheets %v", index, held)
	}
	if len(held) != len(numbers)+len(users) {
		t.Errorf("%d numbers held, want %d", len(held), len(numbers)+len(users))
	}
}

func TestMoveMainNumber(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id": "ann", "name": "Ann", "main_number": "+33478000101", "presented_number": {"mode": "anonymous"}}`)
	e.put(t, `{"id": "ben", "name": "Ben", "presented_number": {"mode": "anonymous"}}`)
	if err := e.st.MoveNumber(ctx, "+33478000101", "ben", "admin"); err != nil {
		t.Fatal(err)
	}
	ann, _ := e.st.GetUser(ctx, "ann")
	ben, _ := e.st.GetUser(ctx, "ben")
	if ann.MainNumber != "" || ben.MainNumber != "+33478000101" {
		t.Errorf("after the move: ann %q, ben %q", ann.MainNumber, ben.MainNumber)
	}
	// A move that would leave a sheet invalid is refused whole.
	e.put(t, `{"id": "cat", "name": "Cat", "main_number": "+33478000103"}`)
	err := e.st.MoveNumber(ctx, "+33478000103", "ann", "admin")
	want := []string{"users[cat].presented_number.mode: main requires a main_number"}
	if got := problemsOf(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if idx := e.hash(t, e.keys.Numbers()); idx["+33478000103"] != "cat" {
		t.Errorf("refused move changed the index: %v", idx)
	}
	if err := e.st.MoveNumber(ctx, "+33999", "ann", "admin"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("moving a number nobody holds: %v", err)
	}
}

// TestDeleteUser: a delete leaves no index entry behind, and frees the user's numbers.
func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	e.lyon(t)
	e.put(t, bobJSON)
	alice := e.put(t, `{"id": "alice", "site": "lyon", "name": "Alice", "main_number": "+33478000001",
		"associated_numbers": [{"number": "+33612345678", "callback": true}],
		"device": {"id": "d", "endpoint": "PJSIP/alice"}, "audio": {"busy": "busy-fr"}}`)
	if err := e.st.SetPIN(ctx, "alice", "1234", "admin"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteUser(ctx, "alice", alice.Version+1, "admin"); !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("DeleteUser at a wrong version: %v", err)
	}
	if err := e.st.DeleteUser(ctx, "alice", alice.Version, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteUser(ctx, "alice", 0, "admin"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	if got := e.hash(t, e.keys.Numbers()); !reflect.DeepEqual(got, map[string]string{"+33478000002": "bob"}) {
		t.Errorf("numbers index after delete = %v", got)
	}
	if got := e.hash(t, e.keys.Devices()); !reflect.DeepEqual(got, map[string]string{"PJSIP/bob": "bob"}) {
		t.Errorf("devices index after delete = %v", got)
	}
	if got := e.zset(t, e.keys.SiteUsers("lyon")); !reflect.DeepEqual(got, []string{"bob"}) {
		t.Errorf("site-users after delete = %v", got)
	}
	if got := e.zset(t, e.keys.Users()); !reflect.DeepEqual(got, []string{"bob"}) {
		t.Errorf("users after delete = %v", got)
	}
	if got := e.set(t, e.keys.MediaUsers("busy-fr")); len(got) != 0 {
		t.Errorf("media-users after delete = %v", got)
	}
	if got := e.hash(t, e.keys.PINs()); len(got) != 0 {
		t.Errorf("pins after delete = %v", got)
	}
	// The numbers are free again.
	e.put(t, `{"id": "carol", "site": "lyon", "name": "Carol", "main_number": "+33478000001", "device": {"id": "d", "endpoint": "PJSIP/alice"}}`)
}

func TestAudit(t *testing.T) {
	e := newEnv(t, func(o *config.Options) { o.AuditLimit = 5 })
	e.put(t, `{"id": "alice", "name": "Alice", "main_number": "+33478000001"}`)
	e.clock.Advance(1)
	_, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error {
		s.DND = true
		s.Forwards.NoAnswer.TimeoutS = 30
		s.AssociatedNumbers = append(s.AssociatedNumbers, config.AssociatedNumber{Number: "+33612345678", Label: "mobile"})
		return nil
	}, "tok-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPIN(ctx, "alice", "480913", "tok-self"); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.Audit(ctx, config.KindUser, "alice", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d entries, want 3", len(got))
	}
	if got[0].Op != config.OpPIN || got[0].Actor != "tok-self" || len(got[0].Changes) != 0 {
		t.Errorf("newest entry = %+v, want a pin change by tok-self without changes", got[0])
	}
	upd := got[1]
	var paths []string
	for _, c := range upd.Changes {
		paths = append(paths, fmt.Sprintf("%s: %s → %s", c.Path, c.Old, c.New))
	}
	want := []string{
		`associated_numbers[0].callback: null → false`,
		`associated_numbers[0].label: null → "mobile"`,
		`associated_numbers[0].number: null → "+33612345678"`,
		`associated_numbers[0].presentation: null → false`,
		`dnd: false → true`,
		`forwards.no_answer.timeout_s: 20 → 30`,
	}
	if !reflect.DeepEqual(paths, want) || upd.Actor != "tok-admin" || upd.Op != config.OpUpdate || upd.Version != 2 {
		t.Errorf("update entry %+v\nchanges %q\nwant %q", upd, paths, want)
	}
	if !upd.At.Equal(e.clock.Now()) {
		t.Errorf("entry at %v, want the injected clock's %v", upd.At, e.clock.Now())
	}
	if got[2].Op != config.OpCreate {
		t.Errorf("oldest entry %+v, want the create", got[2])
	}
	// Bounded: after more writes, only AuditLimit entries remain.
	for i := range 6 {
		if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.Comment = strconv.Itoa(i); return nil }, "loop"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.rdb.LLen(ctx, e.keys.Audit(config.KindUser, "alice")).Val(); n != 5 {
		t.Errorf("audit list holds %d entries, want the bound 5", n)
	}
	// The PIN is nowhere in Redis in clear, neither in the audit.
	for _, k := range []string{e.keys.Audit(config.KindUser, "alice")} {
		for _, v := range e.rdb.LRange(ctx, k, 0, -1).Val() {
			if strings.Contains(v, "480913") {
				t.Errorf("audit entry holds the PIN: %s", v)
			}
		}
	}
	if h := e.hash(t, e.keys.PINs())["alice"]; h == "" || strings.Contains(h, "480913") {
		t.Errorf("stored PIN hash %q", h)
	}
}

func TestPIN(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id": "alice", "name": "Alice", "main_number": "+33478000001"}`)
	for _, bad := range []config.Secret{"123", "1234567890123", "12a4", ""} {
		err := e.st.SetPIN(ctx, "alice", bad, "admin")
		if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{"pin: must be 4 to 12 digits"}) {
			t.Errorf("SetPIN(%d chars): %q", len(bad), got)
		}
	}
	if err := e.st.SetPIN(ctx, "nobody", "1234", "admin"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("SetPIN of a missing user: %v", err)
	}
	if ok, err := e.st.CheckPIN(ctx, "alice", "1234"); ok || err != nil {
		t.Errorf("CheckPIN before any PIN = %v, %v", ok, err)
	}
	if s, _ := e.st.GetUser(ctx, "alice"); s.Voicemail.PINSet {
		t.Error("pin_set before any PIN")
	}
	if err := e.st.SetPIN(ctx, "alice", "2468", "admin"); err != nil {
		t.Fatal(err)
	}
	for pin, want := range map[config.Secret]bool{"2468": true, "2469": false, "": false} {
		if ok, err := e.st.CheckPIN(ctx, "alice", pin); ok != want || err != nil {
			t.Errorf("CheckPIN(%d chars) = %v, %v; want %v", len(pin), ok, err, want)
		}
	}
	s, _ := e.st.GetUser(ctx, "alice")
	if !s.Voicemail.PINSet {
		t.Error("pin_set false after SetPIN")
	}
	out, _ := json.Marshal(s)
	if !strings.Contains(string(out), `"pin_set":true`) || strings.Contains(string(out), "2468") {
		t.Errorf("sheet JSON %s", out)
	}
}

func TestSites(t *testing.T) {
	e := newEnv(t)
	def, err := e.st.GetSite(ctx, config.DefaultSiteID)
	if err != nil {
		t.Fatalf("GetSite(default): %v", err)
	}
	if def.Version != 1 || def.Region != "FR" {
		t.Errorf("default site %+v", def)
	}
	if _, err := e.st.GetSite(ctx, "paris"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("GetSite(paris): %v", err)
	}
	lyon := e.lyon(t)
	if lyon.Version != 1 || lyon.Number != "+33478000000" || lyon.Region != "FR" {
		t.Errorf("lyon as stored: %+v", lyon)
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		s, err := config.DecodeSite([]byte(`{"id": "` + id + `", "name": "B"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.PutSite(ctx, s, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	after := ""
	for {
		page, next, err := e.st.ListSites(ctx, config.ListOptions{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			all = append(all, s.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if want := []string{"b1", "b2", "b3", "default", "lyon"}; !reflect.DeepEqual(all, want) {
		t.Errorf("sites by page = %v, want %v", all, want)
	}
	stale := *lyon
	stale.Version = 0
	if _, err := e.st.PutSite(ctx, &stale, "admin"); !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("PutSite version 0 over lyon: %v", err)
	}
	lyon.OutsideCalls.International = true
	lyon2, err := e.st.PutSite(ctx, lyon, "admin")
	if err != nil || lyon2.Version != 2 {
		t.Fatalf("PutSite update: %v %+v", err, lyon2)
	}
	bad := *lyon2
	bad.MaxForwardHops = 0
	if got := problemsOf(t, second2(e.st.PutSite(ctx, &bad, "admin"))); !reflect.DeepEqual(got, []string{"max_forward_hops: must be between 1 and 10"}) {
		t.Errorf("problems %q", got)
	}

	e.put(t, bobJSON)
	err = e.st.DeleteSite(ctx, "lyon", 0, "admin")
	var inUse *config.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, config.ErrInUse) || !reflect.DeepEqual(inUse.Users, []string{"bob"}) {
		t.Errorf("DeleteSite(lyon) with bob in it: %v", err)
	}
	if err := e.st.DeleteSite(ctx, config.DefaultSiteID, 0, "admin"); problemsOf(t, err)[0] != "id: the default site cannot be deleted" {
		t.Errorf("DeleteSite(default): %v", err)
	}
	if err := e.st.DeleteSite(ctx, "b1", 7, "admin"); !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("DeleteSite at a wrong version: %v", err)
	}
	if err := e.st.DeleteSite(ctx, "b1", 1, "admin"); err != nil {
		t.Errorf("DeleteSite(b1): %v", err)
	}
	if _, err := e.st.GetSite(ctx, "b1"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("b1 after delete: %v", err)
	}
	// A user moving to another site leaves the old site's list.
	if _, err := e.st.UpdateUser(ctx, "bob", 0, func(s *config.Sheet) error { s.Site = "b2"; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteSite(ctx, "lyon", 0, "admin"); err != nil {
		t.Errorf("DeleteSite(lyon) once bob left: %v", err)
	}
}

func second2[T any](_ T, err error) error { return err }

func TestListUsers(t *testing.T) {
	e := newEnv(t)
	e.lyon(t)
	for i, name := range []string{"Alice Martin", "Bob Marley", "Carol King", "Dan Martinez", "Eve", "Frank", "Gus"} {
		site := "default"
		if i%2 == 0 {
			site = "lyon"
		}
		e.put(t, fmt.Sprintf(`{"id": "u%d", "site": %q, "name": %q, "main_number": "+3347800020%d"}`, i, site, name, i))
	}
	ids := func(ss []*config.Sheet) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	var pages [][]string
	f := config.UserFilter{Limit: 3}
	for {
		page, next, err := e.st.ListUsers(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, ids(page))
		if next == "" {
			break
		}
		f.After = next
	}
	if want := [][]string{{"u0", "u1", "u2"}, {"u3", "u4", "u5"}, {"u6"}}; !reflect.DeepEqual(pages, want) {
		t.Errorf("pages %v, want %v", pages, want)
	}
	tests := []struct {
		name string
		f    config.UserFilter
		want []string
	}{
		{"site", config.UserFilter{Site: "lyon"}, []string{"u0", "u2", "u4", "u6"}},
		{"name, any case", config.UserFilter{Name: "MART"}, []string{"u0", "u3"}},
		{"site and name", config.UserFilter{Site: "lyon", Name: "mar"}, []string{"u0"}},
		{"number E.164", config.UserFilter{Number: "+33478000203"}, []string{"u3"}},
		{"number national", config.UserFilter{Number: "04 78 00 02 05"}, []string{"u5"}},
		{"number of another site", config.UserFilter{Number: "+33478000203", Site: "lyon"}, nil},
		{"unknown number", config.UserFilter{Number: "+33478999999"}, nil},
		{"name, paged", config.UserFilter{Name: "a", After: "u1", Limit: 2}, []string{"u2", "u3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := e.st.ListUsers(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("ListUsers(%+v) = %v, want %v", tt.f, ids(got), tt.want)
			}
		})
	}
}

func TestWatch(t *testing.T) {
	e := newEnv(t)
	wctx, cancel := contextWithCancel(t)
	changes, err := e.st.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	e.put(t, `{"id": "alice", "name": "Alice", "main_number": "+33478000001"}`)
	rev, err := e.st.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first write also created the default site: two changes, in order.
	var got []config.Change
	for len(got) < 2 {
		got = append(got, receive(t, changes))
	}
	want := []config.Change{
		{Kind: config.KindSite, ID: "default", Version: 1, Op: config.OpCreate, Rev: rev},
		{Kind: config.KindUser, ID: "alice", Version: 1, Op: config.OpCreate, Rev: rev},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes %+v, want %+v", got, want)
	}
	cancel()
	for range changes { // closed once ctx ends
	}
}

// A sheet written as it is stored, even in another spelling that normalizes to it, is
// not written again: same version, no audit entry, no revision, nothing published.
func TestPutUnchanged(t *testing.T) {
	e := newEnv(t)
	first := e.put(t, `{"id": "alice", "name": "Alice", "main_number": "+33478000001"}`)
	rev, err := e.st.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := sheet(t, `{"id": "alice", "name": "Alice", "main_number": "04 78 00 00 01"}`)
	again.Version = first.Version
	got, err := e.st.PutUser(ctx, again, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != first.Version || got.MainNumber != "+33478000001" {
		t.Errorf("identical PUT stored version %d number %s, want version %d unchanged", got.Version, got.MainNumber, first.Version)
	}
	if r, _ := e.st.Rev(ctx); r != rev {
		t.Errorf("revision %d after an identical PUT, want %d", r, rev)
	}
	if a, _ := e.st.Audit(ctx, config.KindUser, "alice", 10); len(a) != 1 {
		t.Errorf("%d audit entries, want 1 (the creation)", len(a))
	}
	// A stale version is still refused, even for the same content.
	again.Version = first.Version + 5
	if _, err := e.st.PutUser(ctx, again, "test"); !errors.Is(err, config.ErrVersionConflict) {
		t.Errorf("identical PUT with a stale version: %v, want ErrVersionConflict", err)
	}
	// A change is written as before.
	again.Version, again.Name = first.Version, "Alice M."
	if got, err := e.st.PutUser(ctx, again, "test"); err != nil || got.Version != first.Version+1 {
		t.Errorf("changed PUT: %v, version %v", err, got)
	}
}

// TestSharedPresence: each daemon's share of a user's presence, summed for the others,
// an expired share (a daemon that died) left out, a zero share removed; notes say who
// changed what.
func TestSharedPresence(t *testing.T) {
	e := newEnv(t)
	wctx, cancel := contextWithCancel(t)
	defer cancel()
	notes, err := e.st.WatchPresence(wctx)
	if err != nil {
		t.Fatal(err)
	}
	share := func(daemon string, p config.CallPresence, ttl time.Duration) {
		t.Helper()
		if err := e.st.SharePresence(ctx, "alice", daemon, p, ttl); err != nil {
			t.Fatal(err)
		}
	}
	share("d1", config.CallPresence{Ringing: 1}, time.Minute)
	share("d2", config.CallPresence{InCall: 1}, 10*time.Second)
	share("d3", config.CallPresence{Ringing: 2, InCall: 1}, time.Minute)
	for _, want := range []string{"d1", "d2", "d3"} {
		select {
		case n := <-notes:
			if n != (config.PresenceNote{User: "alice", Daemon: want}) {
				t.Errorf("note %+v, want alice by %s", n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no note from %s", want)
		}
	}
	sum := func(except string) config.CallPresence {
		t.Helper()
		p, err := e.st.SharedPresence(ctx, "alice", except)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got, want := sum("d3"), (config.CallPresence{Ringing: 1, InCall: 1}); got != want {
		t.Errorf("shared without d3 = %+v, want %+v", got, want)
	}
	e.clock.Advance(11 * time.Second) // d2 died: its share expired
	if got, want := sum("d3"), (config.CallPresence{Ringing: 1}); got != want {
		t.Errorf("after d2 expired = %+v, want %+v", got, want)
	}
	share("d1", config.CallPresence{}, time.Minute) // d1's calls ended
	if got, want := sum(""), (config.CallPresence{Ringing: 2, InCall: 1}); got != want {
		t.Errorf("after d1 cleared = %+v, want %+v", got, want)
	}
	if err := e.st.SharePresence(ctx, "alice", "d1", config.CallPresence{Ringing: 1}, 0); err == nil {
		t.Error("a zero ttl was accepted")
	}
}
