package callflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/callflow"
	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestExplainIssueShape: the issue's own example, byte for byte.
func TestExplainIssueShape(t *testing.T) {
	dir := world(t, func(u map[string]*config.Sheet) {
		u["alice"].Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{scenario.AliceMobile}, Confirm: true}
		u["alice"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "voicemail", TimeoutS: 20}
	})
	e, err := callflow.Explain(context.Background(), dir, "alice", callflow.ExplainParams{At: scenario.DefaultAt})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(e)
	want := `{"user":"alice",` +
		`"trace":[{"user":"alice","rule":"ring","action":"ring","targets":["user:alice","+33612345678"],"timeout_s":20},` +
		`{"user":"alice","rule":"no_answer","action":"voicemail","targets":["voicemail"]}],` +
		`"outcome":{"kind":"voicemail","by":"alice"}}`
	if string(got) != want {
		t.Errorf("Explain JSON:\n got %s\nwant %s", got, want)
	}
}

// TestExplainGolden explains calls through the world, each case's JSON and text in
// testdata/explain/<name>.{json,txt} (go test -update rewrites them).
func TestExplainGolden(t *testing.T) {
	evening := time.Date(2026, 12, 7, 19, 30, 0, 0, scenario.Paris)
	tests := []struct {
		name  string
		edit  func(map[string]*config.Sheet)
		uid   string
		query string
	}{
		{"desk-rings-then-voicemail", nil, "alice", "at=2026-12-07T10:00:00%2B01:00"},
		{"phone-off-forwards-to-mobile", func(u map[string]*config.Sheet) {
			u["alice"].Forwards.NotConnected = config.Forward{Enabled: true, Target: scenario.AliceMobile}
		}, "alice", "at=2026-12-07T10:00:00%2B01:00&respond=user:alice=offline&respond=%2B33612345678=answer"},
		{"busy-to-bob-who-answers", func(u map[string]*config.Sheet) {
			u["alice"].Forwards.Busy = config.Forward{Enabled: true, Target: "user:bob"}
		}, "alice", "at=2026-12-07T10:00:00%2B01:00&active=2&respond=user:bob=answer&from=%2B33145000000"},
		{"scheduled-evening", func(u map[string]*config.Sheet) {
			u["alice"].Forwards.Scheduled = []config.ScheduledRule{{Enabled: true, Target: "user:bob", Days: []string{"mon"}, Start: "18:00", End: "08:00"}}
		}, "alice", "at=" + url.QueryEscape(evening.Format(time.RFC3339)) + "&respond=user:bob=busy"},
		{"forward-loop", func(u map[string]*config.Sheet) {
			u["alice"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:bob", TimeoutS: 15}
			u["bob"].Forwards.NoAnswer = config.NoAnswerForward{Enabled: true, Target: "user:alice", TimeoutS: 10}
			u["alice"].Voicemail.Enabled = false
		}, "alice", "at=2026-12-07T10:00:00%2B01:00"},
		{"policy-skips-a-forward", func(u map[string]*config.Sheet) {
			u["alice"].Forwards.Unconditional = config.Forward{Enabled: true, Target: scenario.UKNumber}
			u["alice"].Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{"user:carol"}}
			u["carol"].DND = true
		}, "alice", "at=2026-12-07T10:00:00%2B01:00&respond=user:alice=busy"},
		{"dnd", func(u map[string]*config.Sheet) {
			u["alice"].DND = true
			u["alice"].Voicemail.Enabled = false
		}, "alice", "at=2026-12-07T10:00:00%2B01:00"},
		{"direct-line-to-bob-offline", func(u map[string]*config.Sheet) {
			u["alice"].Forwards.Unconditional = config.Forward{Enabled: true, Target: "user:bob"}
		}, "alice", "at=2026-12-07T10:00:00%2B01:00&to=%2B33478000011&respond=user:bob=offline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			p, err := callflow.ParseExplainQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			e, err := callflow.Explain(context.Background(), world(t, tt.edit), tt.uid, p)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.MarshalIndent(e, "", "  ")
			golden(t, filepath.Join("testdata", "explain", tt.name+".json"), append(js, '\n'))
			var txt bytes.Buffer
			if err := e.WriteText(&txt); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "explain", tt.name+".txt"), txt.Bytes())
			// The JSON decodes back to the same explanation (sophiactl reads it).
			var back callflow.Explanation
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if again, _ := json.MarshalIndent(&back, "", "  "); !bytes.Equal(again, js) {
				t.Errorf("JSON does not round-trip")
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestExplainDoesNotChangeTheDirectory(t *testing.T) {
	dir := world(t, nil)
	dir["alice"].ActiveCalls = 1
	dir["alice"].Device = config.DeviceUnknown
	before := *dir["alice"]
	_, err := callflow.Explain(context.Background(), dir, "alice", callflow.ExplainParams{At: scenario.DefaultAt, Active: 2,
		Respond: map[string]callflow.Behavior{"user:alice": callflow.Offline}})
	if err != nil {
		t.Fatal(err)
	}
	if *dir["alice"] != before {
		t.Errorf("the directory's view changed: %+v, was %+v", *dir["alice"], before)
	}
}

func TestExplainUnknownUser(t *testing.T) {
	_, err := callflow.Explain(context.Background(), world(t, nil), "nobody", callflow.ExplainParams{})
	if !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Explain(nobody) = %v, want ErrNotFound", err)
	}
}

func TestParseExplainQuery(t *testing.T) {
	at := time.Date(2026, 12, 7, 19, 30, 0, 0, time.FixedZone("", 3600))
	tests := []struct {
		query   string
		want    callflow.ExplainParams
		wantErr string
	}{
		{query: "", want: callflow.ExplainParams{}},
		{query: "at=2026-12-07T19:30:00%2B01:00&from=%2B33145000000&to=%2B33478000001&active=1",
			want: callflow.ExplainParams{At: at, From: "+33145000000", To: "+33478000001", Active: 1}},
		{query: "from=+33145000000&respond=+33612345678=answer",
			want: callflow.ExplainParams{From: "+33145000000", Respond: map[string]callflow.Behavior{"+33612345678": callflow.Answer}}},
		{query: "respond=user:alice=offline&respond=user:bob=busy&respond=1002=no_answer",
			want: callflow.ExplainParams{Respond: map[string]callflow.Behavior{"user:alice": callflow.Offline, "user:bob": callflow.Busy, "1002": callflow.NoAnswer}}},
		{query: "at=yesterday", wantErr: `at: "yesterday" is not an RFC 3339 time (2026-12-07T19:30:00+01:00)`},
		{query: "active=-1", wantErr: `active: "-1" is not a number of calls (0 to 1000)`},
		{query: "active=two", wantErr: `active: "two" is not a number of calls (0 to 1000)`},
		{query: "respond=user:alice", wantErr: `respond: "user:alice" is not <target>=<response>`},
		{query: "respond==answer", wantErr: `respond: "=answer" is not <target>=<response>`},
		{query: "respond=%20=answer", wantErr: `respond: " =answer" is not <target>=<response>`},
		{query: "respond=user:alice=congestion", wantErr: `respond: "user:alice=congestion": response must be answer, no_answer, busy or offline`},
		{query: "respond=user:alice=busy&respond=user:alice=answer", wantErr: "respond: user:alice given twice"},
		{query: "when=now", wantErr: "when: unknown parameter (want at, from, to, active, respond)"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := callflow.ParseExplainQuery(q)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.At.Equal(tt.want.At) || got.From != tt.want.From || got.To != tt.want.To || got.Active != tt.want.Active || len(got.Respond) != len(tt.want.Respond) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for k, v := range tt.want.Respond {
				if got.Respond[k] != v {
					t.Errorf("respond[%s] = %v, want %v", k, got.Respond[k], v)
				}
			}
		})
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func render(e *callflow.Explanation) string {
	var b bytes.Buffer
	e.WriteText(&b)
	return b.String()
}
