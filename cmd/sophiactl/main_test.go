package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
	"github.com/sophia-pbx/sophia/internal/tone"
)

// server is a real API over the real store on the shared Redis.
type server struct {
	t     *testing.T
	url   string
	admin string
	store *config.Store
}

func newServer(t *testing.T) *server {
	t.Helper()
	rdb, prefix := redistest.New(t)
	store, err := config.New(config.Options{Client: rdb, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	_, secret, err := store.CreateToken(context.Background(), "admin", config.Scope{Kind: config.ScopeAll}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &server{t: t, url: hs.URL, admin: string(secret), store: store}
}

// ctl runs sophiactl with the server's URL and admin token in the environment.
func (s *server) ctl(stdin string, args ...string) (code int, stdout, stderr string) {
	return s.ctlAs(s.admin, stdin, args...)
}

func (s *server) ctlAs(token, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errw bytes.Buffer
	env := map[string]string{"SOPHIA_URL": s.url, "SOPHIA_TOKEN": token}
	code = run(args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errw)
	return code, out.String(), errw.String()
}

// must runs sophiactl and fails unless it exits with want.
func (s *server) must(want int, stdin string, args ...string) string {
	s.t.Helper()
	code, out, errs := s.ctl(stdin, args...)
	if code != want {
		s.t.Fatalf("sophiactl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsersCommands(t *testing.T) {
	s := newServer(t)
	f := writeFile(t, "alice.json", `{"name":"Alice Martin","main_number":"+33478000001"}`)
	out := s.must(0, "", "users", "set", "alice", f)
	if !strings.Contains(out, "alice (Alice Martin)") || !strings.Contains(out, "+33478000001") {
		t.Errorf("users set output:\n%s", out)
	}
	s.must(5, "", "users", "set", "alice", f) // exists: version 0 conflicts
	out = s.must(0, "", "users", "get", "alice", "-o", "json")
	var sheet config.Sheet
	if err := json.Unmarshal([]byte(out), &sheet); err != nil || sheet.Version != 1 {
		t.Fatalf("-o json: %v %s", err, out)
	}
	s.must(0, "", "users", "patch", "alice", `{"comment":"Accueil"}`)
	s.must(0, `{"dnd":true}`, "users", "patch", "alice", "-")
	s.must(5, "", "users", "patch", "alice", `{"dnd":false}`, "--if-match", "1")
	out = s.must(0, "", "users", "get", "alice")
	if !strings.Contains(out, "dnd               on") && !strings.Contains(out, "dnd") {
		t.Errorf("get:\n%s", out)
	}
	s.must(0, "", "users", "set", "bob", writeFile(t, "bob.json", `{"name":"Bob","main_number":"+33478000002"}`))
	out = s.must(0, "", "users", "list")
	if !strings.Contains(out, "ID") || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("list:\n%s", out)
	}
	out = s.must(0, "", "users", "list", "--number", "+33478000002", "-o", "json")
	var list []config.Sheet
	if json.Unmarshal([]byte(out), &list); len(list) != 1 || list[0].ID != "bob" {
		t.Errorf("list --number: %s", out)
	}
	s.must(7, "", "users", "patch", "alice", `{"forwards":{"no_answer":{"timeout_s":1}}}`)
	code, _, errs := s.ctl("", "users", "patch", "alice", `{"forwards":{"no_answer":{"timeout_s":1}}}`)
	if code != 7 || !strings.Contains(errs, "forwards.no_answer.timeout_s") {
		t.Errorf("invalid patch: exit %d, stderr %s", code, errs)
	}
	s.must(0, "", "users", "audit", "alice")
	s.must(0, "", "users", "delete", "bob")
	s.must(4, "", "users", "get", "bob")
	s.must(0, "", "sites", "set", "lyon", writeFile(t, "lyon.json", `{"name":"Lyon","region":"FR","timezone":"Europe/Paris"}`))
	out = s.must(0, "", "sites", "list")
	if !strings.Contains(out, "lyon") || !strings.Contains(out, "default") {
		t.Errorf("sites list:\n%s", out)
	}
	s.must(0, "", "sites", "patch", "lyon", `{"number":"+33478000000"}`)
	s.must(0, "", "sites", "get", "lyon")
}

func TestShortcutCommands(t *testing.T) {
	s := newServer(t)
	s.must(0, "", "users", "set", "bob", writeFile(t, "bob.json", `{"name":"Bob","main_number":"+33478000002"}`))
	s.must(0, "", "users", "set", "alice", writeFile(t, "a.json", `{"name":"Alice","main_number":"+33478000001"}`))
	if out := s.must(0, "", "dnd", "on", "alice"); !strings.Contains(out, "dnd on") {
		t.Errorf("dnd on: %s", out)
	}
	s.must(0, "", "dnd", "off", "alice")
	if out := s.must(0, "", "forward", "set", "alice", "busy", "user:bob"); !strings.Contains(out, "busy→user:bob") {
		t.Errorf("forward set: %s", out)
	}
	s.must(0, "", "forward", "set", "alice", "no_answer", "voicemail", "--ring-timeout", "30")
	s.must(0, "", "forward", "set", "alice", "simultaneous_ring", "+33612345678", "--confirm")
	s.must(0, "", "forward", "off", "alice", "busy")
	s.must(0, "", "forward", "on", "alice", "busy")
	s.must(0, "", "forward", "clear", "alice", "busy")
	s.must(4, "", "forward", "on", "alice", "scheduled/0")
	s.must(7, "", "forward", "set", "alice", "busy", "user:nobody")
	got, err := s.store.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	f := got.Forwards
	if f.Busy.Enabled || f.Busy.Target != "" || f.NoAnswer.TimeoutS != 30 || !f.SimultaneousRing.Confirm || got.DND {
		t.Errorf("after the shortcuts: %+v dnd %v", f, got.DND)
	}
	s.must(0, "493817\n", "pin", "set", "alice")
	if ok, err := s.store.CheckPIN(context.Background(), "alice", "493817"); err != nil || !ok {
		t.Errorf("PIN not set: %v %v", ok, err)
	}
	s.must(2, "", "pin", "set", "alice")
}

func TestExitCodes(t *testing.T) {
	s := newServer(t)
	if code, _, _ := s.ctl("", "users", "frobnicate"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	if code, _, _ := s.ctl("", "users", "get"); code != 2 {
		t.Errorf("missing argument: %d", code)
	}
	if code, _, _ := s.ctl("", "users", "list", "-o", "yaml"); code != 2 {
		t.Errorf("bad -o: %d", code)
	}
	if code, _, errs := s.ctlAs("", "", "users", "list"); code != 6 || !strings.Contains(errs, "token") {
		t.Errorf("no token: %d %s", code, errs)
	}
	if code, _, _ := s.ctlAs("wrong", "", "users", "list"); code != 6 {
		t.Errorf("bad token: %d", code)
	}
	if code, _, _ := s.ctl("", "users", "list", "--url", "http://127.0.0.1:1", "--timeout", "2s"); code != 1 {
		t.Errorf("unreachable: %d", code)
	}
	if code, out, errs := s.ctl("", "users", "list", "-h"); code != 0 || strings.Contains(out+errs, s.admin) || !strings.Contains(errs, "SOPHIA_TOKEN") {
		t.Errorf("-h: exit %d, or it shows the token: %s", code, errs)
	}
	if code, out, _ := s.ctl("", "help"); code != 0 || !strings.Contains(out, "users import") {
		t.Errorf("help: %d %s", code, out)
	}
	if code, out, _ := s.ctl("", "whoami", "-o", "json"); code != 0 || !strings.Contains(out, `"admin"`) {
		t.Errorf("whoami: %d %s", code, out)
	}
}

func TestImportCSV(t *testing.T) {
	s := newServer(t)
	s.must(0, "", "users", "set", "bob", writeFile(t, "bob.json", `{"name":"Bob","main_number":"+33478000002"}`))
	csv := "id,name,main_number,dnd,forwards.busy.enabled,forwards.busy.target,forwards.no_answer.timeout_s,associated_numbers\n" +
		"alice,Alice Martin,+33478000001,false,true,user:bob,25,\"[{\"\"number\"\":\"\"+33612345678\"\",\"\"callback\"\":true}]\"\n" + // line 2: new
		"bob,,,true,,,,\n" + // line 3: update dnd only
		"carol,Carol,+33478000003,perhaps,,,,\n" + // line 4: bad bool
		"dave,Dave,+33478000004,,true,user:nobody,,\n" + // line 5: refused by the API
		"eve,Eve,+33478000005,,,,12x,\n" + // line 6: bad number
		",NoID,+33478000006,,,,,\n" + // line 7: no id
		"frank,Frank,+33478000001,,,,,\n" + // line 8: alice's number
		"gina,Gina,+33478000007,,,,,\n" // line 9: new
	f := writeFile(t, "users.csv", csv)
	code, out, errs := s.ctl("", "users", "import", f)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errs)
	}
	out = regexp.MustCompile(`[ \t]+`).ReplaceAllString(out, " ")
	for _, want := range []string{
		"line 2 alice created", "line 3 bob updated", "line 9 gina created",
		"line 4", `dnd: "perhaps" is not true or false`,
		"line 5", "forwards.busy.target",
		"line 6", `forwards.no_answer.timeout_s: "12x" is not a whole number`,
		"line 7", "id: required",
		"line 8", "main_number",
		"8 rows: 3 done, 5 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	ctx := context.Background()
	alice, err := s.store.GetUser(ctx, "alice")
	if err != nil || !alice.Forwards.Busy.Enabled || alice.Forwards.NoAnswer.TimeoutS != 25 || len(alice.AssociatedNumbers) != 1 {
		t.Errorf("alice: %+v %v", alice, err)
	}
	bob, _ := s.store.GetUser(ctx, "bob")
	if !bob.DND || bob.Name != "Bob" {
		t.Errorf("bob: dnd %v name %q", bob.DND, bob.Name)
	}
	for _, id := range []string{"carol", "dave", "eve", "frank"} {
		if _, err := s.store.GetUser(ctx, id); err == nil {
			t.Errorf("%s was written from a bad row", id)
		}
	}
	// JSON report for scripts.
	code, out, _ = s.ctl("", "users", "import", f, "-o", "json")
	var rep struct {
		Rows   []rowResult `json:"rows"`
		Failed int         `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 3 || rep.Failed != 5 || len(rep.Rows) != 8 || rep.Rows[2].Line != 4 {
		t.Errorf("json report: %d %v %s", code, err, out)
	}
	// A bad header stops before any write.
	code, _, errs = s.ctl("", "users", "import", writeFile(t, "bad.csv", "id,colour\nx,red\n"))
	if code != 2 || !strings.Contains(errs, `"colour"`) {
		t.Errorf("bad header: %d %s", code, errs)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	s := newServer(t)
	s.must(0, "", "users", "set", "bob", writeFile(t, "bob.json", `{"name":"Bob","main_number":"+33478000002"}`))
	s.must(0, "", "users", "set", "alice", writeFile(t, "a.json", `{"name":"Alice","main_number":"+33478000001",
		"forwards":{"scheduled":[{"enabled":true,"target":"voicemail","days":["mon"],"start":"18:00","end":"08:00"}],"busy":{"enabled":true,"target":"user:bob"}},
		"device":{"id":"d1","endpoint":"PJSIP/alice"}}`))
	before, _ := s.store.GetUser(context.Background(), "alice")
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "users."+format)
			s.must(0, "", "users", "export", "--format", format, "--file", file)
			out := s.must(0, "", "users", "import", file)
			if !regexp.MustCompile(`alice\s+updated`).MatchString(out) || !strings.Contains(out, "2 rows: 2 done, 0 failed") {
				t.Errorf("re-import:\n%s", out)
			}
			// Re-importing what was exported changes nothing, not even the version.
			after, _ := s.store.GetUser(context.Background(), "alice")
			a, _ := json.Marshal(after)
			b, _ := json.Marshal(before)
			if !bytes.Equal(a, b) {
				t.Errorf("round trip changed alice:\n%s\n%s", b, a)
			}
			// Alice changes after the export: her row is now stale and refused (the
			// others go on), unless --force.
			s.must(0, "", "dnd", "on", "alice")
			code, out, _ := s.ctl("", "users", "import", file)
			if code != 3 || !regexp.MustCompile(`alice\s+failed`).MatchString(out) || !strings.Contains(out, "1 done, 1 failed") {
				t.Errorf("stale re-import: %d\n%s", code, out)
			}
			s.must(0, "", "users", "import", file, "--force")
			if u, _ := s.store.GetUser(context.Background(), "alice"); u.DND {
				t.Error("--force did not write the file's dnd")
			}
			before, _ = s.store.GetUser(context.Background(), "alice")
		})
	}
	code, out, _ := s.ctl("", "users", "import", writeFile(t, "bad.json", "[\n{\"id\":\"x\",\"name\":\"X\",\"main_number\":\"+33478000009\"},\n{\"id\":\"y\",\"dnd\":\"no\"}\n]"))
	if code != 3 || !regexp.MustCompile(`line 2\s+x\s+created`).MatchString(out) || !regexp.MustCompile(`line 3\s+y\s+failed`).MatchString(out) {
		t.Errorf("json import: %d\n%s", code, out)
	}
}

func TestMediaAndTokenCommands(t *testing.T) {
	s := newServer(t)
	wav := tone.WAV(8000, tone.Segment{Hz: 440, Dur: 50 * time.Millisecond})
	f := filepath.Join(t.TempDir(), "beep.wav")
	os.WriteFile(f, wav, 0o644)
	s.must(0, "", "media", "upload", "beep", f)
	if out := s.must(0, "", "media", "list"); !strings.Contains(out, "name=beep") {
		t.Errorf("media list: %s", out)
	}
	dl := filepath.Join(t.TempDir(), "got.wav")
	s.must(0, "", "media", "download", "beep", dl)
	if got, _ := os.ReadFile(dl); !bytes.Equal(got, wav) {
		t.Error("downloaded file differs")
	}
	s.must(7, "", "media", "upload", "bad", writeFile(t, "bad.wav", "not a wav"))
	s.must(0, "", "media", "delete", "beep")

	out := s.must(0, "", "tokens", "create", "lyon-ops", "--scope", "site:default")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	code, who, _ := s.ctlAs(secret, "", "whoami", "-o", "json")
	if code != 0 || !strings.Contains(who, "lyon-ops") {
		t.Errorf("new token: %d %s", code, who)
	}
	if out := s.must(0, "", "tokens", "list"); strings.Contains(out, secret) || !strings.Contains(out, "lyon-ops") {
		t.Errorf("tokens list: %s", out)
	}
	s.must(0, "", "tokens", "delete", "lyon-ops")
	if code, _, _ := s.ctlAs(secret, "", "whoami"); code != 6 {
		t.Errorf("deleted token: exit %d", code)
	}
}
