package config_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

func TestMediaLibrary(t *testing.T) {
	e := newEnv(t)
	data := wav(16000, 2, 16, 1, 1500)
	info, err := e.st.PutMedia(ctx, "moh", data, "admin")
	if err != nil {
		t.Fatal(err)
	}
	want := config.AudioFormat{SampleRate: 16000, Channels: 2, Bits: 16}
	if info.Format != want || info.DurationMS != 1500 || info.Size != int64(len(data)) || len(info.SHA256) != 64 {
		t.Errorf("info %+v", info)
	}
	got, gotInfo, err := e.st.GetMedia(ctx, "moh")
	if err != nil || !bytes.Equal(got, data) || !reflect.DeepEqual(gotInfo, info) {
		t.Errorf("GetMedia: %v, %d bytes, %+v", err, len(got), gotInfo)
	}
	if _, _, err := e.st.GetMedia(ctx, "nope"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("GetMedia(nope): %v", err)
	}
	if _, err := e.st.PutMedia(ctx, "beep", wav(8000, 1, 8, 1, 250), "admin"); err != nil {
		t.Fatal(err)
	}
	list, err := e.st.ListMedia(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "beep" || list[1].Name != "moh" || list[0].DurationMS != 250 {
		t.Errorf("ListMedia = %v, %+v", err, list)
	}

	tests := []struct {
		name, media string
		data        []byte
		want        string
	}{
		{"not a wav", "x", []byte("ID3\x04 this is an mp3"), "file: not a WAV file (no RIFF/WAVE header)"},
		{"float", "x", wav(8000, 1, 32, 3, 100), "file: WAV encoding is IEEE float, not PCM: convert it (sox in.wav -e signed-integer -b 16 out.wav)"},
		{"24 bit", "x", wav(8000, 1, 24, 1, 100), "file: WAV has 24-bit samples; want 8 or 16"},
		{"96 kHz", "x", wav(96000, 1, 16, 1, 10), "file: WAV sample rate is 96000 Hz; want 8000 to 48000"},
		{"6 channels", "x", wav(8000, 6, 16, 1, 10), "file: WAV has 6 channels; want mono or stereo"},
		{"truncated", "x", wav(8000, 1, 16, 1, 100)[:500], "file: WAV file is truncated: chunk \"data\" declares 1600 bytes, 456 remain"},
		{"bad name", "Hold Music", wav(8000, 1, 16, 1, 10), "name: must be 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.st.PutMedia(ctx, tt.media, tt.data, "admin")
			if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{tt.want}) {
				t.Errorf("PutMedia: %q, want %q", got, tt.want)
			}
		})
	}

	// In use: refused, naming the users; free again once no sheet names it.
	e.put(t, `{"id": "alice", "name": "A", "main_number": "+33478000001", "audio": {"hold": "moh"}}`)
	e.put(t, `{"id": "bob", "name": "B", "main_number": "+33478000002", "voicemail": {"greeting": "moh"}}`)
	err = e.st.DeleteMedia(ctx, "moh", "admin")
	var inUse *config.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, config.ErrInUse) || !reflect.DeepEqual(inUse.Users, []string{"alice", "bob"}) {
		t.Fatalf("DeleteMedia in use: %v", err)
	}
	if err.Error() != "media moh is used by user alice, bob" {
		t.Errorf("message %q", err)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, err := e.st.UpdateUser(ctx, u, 0, func(s *config.Sheet) error {
			s.Audio.Hold, s.Voicemail.Greeting = "", ""
			return nil
		}, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.DeleteMedia(ctx, "moh", "admin"); err != nil {
		t.Fatalf("DeleteMedia once unused: %v", err)
	}
	if n := e.rdb.Exists(ctx, e.keys.Media("moh")).Val(); n != 0 {
		t.Error("media bytes left behind")
	}
	if err := e.st.DeleteMedia(ctx, "moh", "admin"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("DeleteMedia twice: %v", err)
	}
}
