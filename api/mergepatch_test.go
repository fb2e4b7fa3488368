package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestMergePatchRFC7396 runs every example of RFC 7396 Appendix A, plus number keeping.
func TestMergePatchRFC7396(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		// Beyond the RFC: arrays keep their nulls; big numbers keep their digits.
		{`{"a":1}`, `{"b":[null,1]}`, `{"a":1,"b":[null,1]}`},
		{`{"v":1}`, `{"v":12345678901234567890}`, `{"v":12345678901234567890}`},
	}
	for _, tt := range tests {
		t.Run(tt.target+" + "+tt.patch, func(t *testing.T) {
			got, err := mergePatch([]byte(tt.target), []byte(tt.patch))
			if err != nil {
				t.Fatalf("mergePatch: %v", err)
			}
			var g, w any
			json.Unmarshal(got, &g)
			json.Unmarshal([]byte(tt.want), &w)
			if !reflect.DeepEqual(g, w) || (tt.want == `{"v":12345678901234567890}` && string(got) != tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMergePatchRefusesBadJSON(t *testing.T) {
	for _, p := range []string{``, `{`, `{"a":1} {"b":2}`, `{"a":tru}`} {
		if _, err := mergePatch([]byte(`{}`), []byte(p)); err == nil {
			t.Errorf("mergePatch(%q): no error", p)
		}
	}
}

// FuzzMergePatch: whatever the input, mergePatch never panics, answers valid JSON, and is
// idempotent (RFC 7396: applying a patch twice is applying it once).
func FuzzMergePatch(f *testing.F) {
	f.Add(`{"a":"b"}`, `{"a":null}`)
	f.Add(`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`)
	f.Add(`[1,2]`, `{"a":"b","c":null}`)
	f.Add(`{}`, `{"a":{"bb":{"ccc":null}}}`)
	f.Add(`{"forwards":{"busy":{"enabled":false}}}`, `{"forwards":{"busy":{"enabled":true,"target":"voicemail"}}}`)
	f.Add(`{"n":1e400}`, `{"m":-0}`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		once, err := mergePatch([]byte(doc), []byte(patch))
		if err != nil {
			return
		}
		if !json.Valid(once) {
			t.Fatalf("invalid JSON %s", once)
		}
		twice, err := mergePatch(once, []byte(patch))
		if err != nil {
			t.Fatalf("second application: %v", err)
		}
		var a, b any
		json.Unmarshal(once, &a)
		json.Unmarshal(twice, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not idempotent: %s then %s", once, twice)
		}
	})
}
