package config

import (
	"encoding/binary"
	"fmt"
)

// AudioFormat is a PCM stream's shape.
type AudioFormat struct {
	SampleRate int `json:"sample_rate"` // Hz, 8000 to 48000
	Channels   int `json:"channels"`    // 1 or 2
	Bits       int `json:"bits"`        // 8 or 16 per sample
}

// wavFormats names the WAVE format tags met in practice, for errors.
var wavFormats = map[uint16]string{
	2: "Microsoft ADPCM", 3: "IEEE float", 6: "A-law", 7: "µ-law", 0x11: "IMA ADPCM",
	0x31: "GSM 6.10", 0x55: "MP3", 0xfffe: "extensible",
}

// ParseWAV reads a RIFF/WAVE file's header: it must be PCM (format 1), mono or stereo,
// 8 or 16 bits, 8 to 48 kHz, with its data chunk whole. It returns the format and the
// audio's duration; the error says what is wrong in words an admin can act on.
func ParseWAV(b []byte) (AudioFormat, int64, error) {
	var f AudioFormat
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return f, 0, fmt.Errorf("not a WAV file (no RIFF/WAVE header)")
	}
	var fmtFound bool
	var blockAlign int
	for off := 12; ; {
		if len(b)-off < 8 {
			if !fmtFound {
				return f, 0, fmt.Errorf("WAV file has no fmt chunk")
			}
			return f, 0, fmt.Errorf("WAV file has no data chunk")
		}
		id := string(b[off : off+4])
		size := int64(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		if int64(len(b)-body) < size {
			return f, 0, fmt.Errorf("WAV file is truncated: chunk %q declares %d bytes, %d remain", id, size, len(b)-body)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return f, 0, fmt.Errorf("WAV fmt chunk is %d bytes, want at least 16", size)
			}
			c := b[body:]
			tag := binary.LittleEndian.Uint16(c[0:2])
			if tag != 1 {
				name := wavFormats[tag]
				if name == "" {
					name = fmt.Sprintf("format %d", tag)
				}
				return f, 0, fmt.Errorf("WAV encoding is %s, not PCM: convert it (sox in.wav -e signed-integer -b 16 out.wav)", name)
			}
			f.Channels = int(binary.LittleEndian.Uint16(c[2:4]))
			f.SampleRate = int(binary.LittleEndian.Uint32(c[4:8]))
			blockAlign = int(binary.LittleEndian.Uint16(c[12:14]))
			f.Bits = int(binary.LittleEndian.Uint16(c[14:16]))
			switch {
			case f.Channels != 1 && f.Channels != 2:
				return f, 0, fmt.Errorf("WAV has %d channels; want mono or stereo", f.Channels)
			case f.Bits != 8 && f.Bits != 16:
				return f, 0, fmt.Errorf("WAV has %d-bit samples; want 8 or 16", f.Bits)
			case f.SampleRate < 8000 || f.SampleRate > 48000:
				return f, 0, fmt.Errorf("WAV sample rate is %d Hz; want 8000 to 48000", f.SampleRate)
			case blockAlign != f.Channels*f.Bits/8:
				return f, 0, fmt.Errorf("WAV block align is %d; want %d for %d channel(s) of %d bits", blockAlign, f.Channels*f.Bits/8, f.Channels, f.Bits)
			}
			fmtFound = true
		case "data":
			if !fmtFound {
				return f, 0, fmt.Errorf("WAV data chunk comes before the fmt chunk")
			}
			ms := size * 1000 / int64(f.SampleRate*blockAlign)
			return f, ms, nil
		}
		off = body + int(size) + int(size&1) // chunks are padded to an even size
	}
}
