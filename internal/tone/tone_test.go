package tone

import (
	"encoding/binary"
	"testing"
	"time"
)

func TestWAVHeader(t *testing.T) {
	b := WAV(8000, Segment{Hz: 425, Dur: 250 * time.Millisecond}, Segment{Dur: 250 * time.Millisecond})
	if got, want := len(b), 44+8000; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"riff size", le.Uint32(b[4:]), uint32(len(b) - 8)},
		{"format", uint32(le.Uint16(b[20:])), 1},
		{"channels", uint32(le.Uint16(b[22:])), 1},
		{"rate", le.Uint32(b[24:]), 8000},
		{"bits", uint32(le.Uint16(b[34:])), 16},
		{"data size", le.Uint32(b[40:]), 8000},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Errorf("chunk ids wrong: %q", b[:40])
	}
	if le.Uint16(b[44+8000-2:]) != 0 {
		t.Error("the silence is not silent")
	}
}
