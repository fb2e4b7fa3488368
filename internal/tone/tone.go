// Package tone makes small, valid WAV files (RIFF, PCM, 16-bit mono) of tones and
// silences: the demo's media library and tests that upload media use it.
package tone

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"
)

// Segment is one part of a sound: a sine at Hz (0: silence) for Dur.
type Segment struct {
	Hz  float64
	Dur time.Duration
}

// WAV renders segments as a 16-bit mono PCM WAV file at rate samples per second.
func WAV(rate int, segments ...Segment) []byte {
	var pcm []int16
	for _, s := range segments {
		n := int(s.Dur.Seconds() * float64(rate))
		for i := range n {
			v := 0.0
			if s.Hz > 0 {
				v = 0.3 * math.Sin(2*math.Pi*s.Hz*float64(i)/float64(rate))
			}
			pcm = append(pcm, int16(v*math.MaxInt16))
		}
	}
	var b bytes.Buffer
	dataLen := uint32(len(pcm) * 2)
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(36 + dataLen)
	b.WriteString("WAVEfmt ")
	w(uint32(16))       // fmt chunk size
	w(uint16(1))        // PCM
	w(uint16(1))        // mono
	w(uint32(rate))     // sample rate
	w(uint32(rate * 2)) // byte rate
	w(uint16(2))        // block align
	w(uint16(16))       // bits per sample
	b.WriteString("data")
	w(dataLen)
	w(pcm)
	return b.Bytes()
}
