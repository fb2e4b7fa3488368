package config_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

// FuzzDecodeSheet: decoding, normalizing and validating any input never panics, refuses
// only with a *ValidationError, and a sheet that validates survives a JSON round trip.
// The seed corpus is testdata/fuzz/FuzzDecodeSheet plus every testdata sheet.
func FuzzDecodeSheet(f *testing.F) {
	files, _ := filepath.Glob("testdata/sheet-*.json")
	bad, _ := filepath.Glob("testdata/sheet-bad/*.json")
	for _, name := range append(files, bad...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := config.DecodeSheet(data)
		var ve *config.ValidationError
		if err != nil {
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("DecodeSheet error %v (%T) is not a ValidationError with problems", err, err)
			}
			return
		}
		site := sites(t)[s.Site]
		if site == nil {
			def := config.DefaultSite()
			site = &def
		}
		s.Normalize(site.Region)
		if err := s.Validate(site, facts); err != nil {
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Validate error %v (%T) is not a ValidationError with problems", err, err)
			}
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal a valid sheet: %v", err)
		}
		back, err := config.DecodeSheet(out)
		if err != nil {
			t.Fatalf("decode a valid sheet's JSON %s: %v", out, err)
		}
		back.Normalize(site.Region)
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("round trip changed the sheet:\n got %+v\nwant %+v\n json %s", back, s, out)
		}
		if _, err := config.Compile(s, site); err != nil {
			t.Fatalf("a valid sheet does not compile: %v", err)
		}
	})
}
