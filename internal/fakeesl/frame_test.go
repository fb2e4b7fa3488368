package fakeesl

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadCommand(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		cmd     string
		headers []Header
		body    string
		err     error
	}{
		{"plain LF", "api status\n\n", "api status", nil, "", nil},
		{"eslgo CRLF after a body", "\r\n\r\nsendmsg\r\nContent-Length: 3\r\ncall-command: execute\r\n\r\nx=y", "sendmsg",
			[]Header{{"Content-Length", "3"}, {"call-command", "execute"}}, "x=y", nil},
		{"colon in command", "auth pass:word\n\n", "auth pass:word", nil, "", nil},
		{"negative length", "sendevent X\nContent-Length: -1\n\n", "", nil, "", ErrContentLength},
		{"signed length", "sendevent X\nContent-Length: +4\n\nabcd", "", nil, "", ErrContentLength},
		{"garbage length", "sendevent X\nContent-Length: 0x10\n\n", "", nil, "", ErrContentLength},
		{"empty length", "sendevent X\nContent-Length:\n\n", "", nil, "", ErrContentLength},
		{"huge length", "sendevent X\nContent-Length: 99999999999\n\n", "", nil, "", ErrTooLarge},
		{"overflowing length", "sendevent X\nContent-Length: 9999999999999999999999\n\n", "", nil, "", ErrContentLength},
		{"above cap", "sendevent X\nContent-Length: 9000000\n\n", "", nil, "", ErrTooLarge},
		{"short body", "sendevent X\nContent-Length: 10\n\nabc", "", nil, "", io.ErrUnexpectedEOF},
		{"eof mid header", "api status\n", "", nil, "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewFrameReader(strings.NewReader(tt.in), 0).ReadCommand()
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Command != tt.cmd || string(m.Body) != tt.body || len(m.Headers) != len(tt.headers) {
				t.Fatalf("got %q %v %q, want %q %v %q", m.Command, m.Headers, m.Body, tt.cmd, tt.headers, tt.body)
			}
			for i := range tt.headers {
				if m.Headers[i] != tt.headers[i] {
					t.Errorf("header %d = %v, want %v", i, m.Headers[i], tt.headers[i])
				}
			}
		})
	}
}

// TestURLEncodeMatchesTraces re-encodes every decoded value of every plain event in the
// traces and expects FreeSWITCH's bytes back.
func TestURLEncodeMatchesTraces(t *testing.T) {
	n := 0
	for _, f := range traceFiles(t) {
		tr := loadTrace(t, f)
		for _, conn := range tr.conns() {
			for _, m := range tr.messages(t, conn) {
				if m.Get("Content-Type") != "text/event-plain" {
					continue
				}
				inner, err := NewFrameReader(bytes.NewReader(m.Body), 0).ReadMessage()
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				for _, h := range inner.Headers {
					if got := urlEncode(urlDecode(h.Value)); got != h.Value {
						t.Fatalf("%s: %s: encode(decode(%q)) = %q", f, h.Name, h.Value, got)
					}
					n++
				}
			}
		}
	}
	if n < 10000 {
		t.Fatalf("only %d values checked", n)
	}
}

func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"api status\n\n", "auth ClueCon\n\n", "sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n",
		"sendevent CUSTOM\nEvent-Subclass: sophia::test\nContent-Length: 11\n\nhello body\n",
		"\r\n\r\nsendmsg\r\nContent-Length: 3\r\n\r\nx=y\r\n\r\n", "x\nContent-Length: -5\n\n",
		"x\nContent-Length: 18446744073709551616\n\n", "x\n:\n\n", "\n\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFrameReader(bytes.NewReader(data), 1024)
		for i := 0; i < 64; i++ {
			m, err := fr.ReadCommand()
			if err != nil {
				return
			}
			if len(m.Body) > 1024 {
				t.Fatalf("body of %d bytes above the cap", len(m.Body))
			}
			// The reader ignores trailing blanks after the digits ("0\t" is 0, as atoi says).
			if cl, ok := m.Lookup("Content-Length"); ok && strings.TrimSpace(cl) != "" && len(m.Body) == 0 &&
				strings.TrimLeft(strings.TrimRight(cl, " \t"), "0") != "" {
				t.Fatalf("Content-Length %q but no body", cl)
			}
		}
	})
}

func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		"Content-Type: auth/request\n\n",
		"Content-Type: api/response\nContent-Length: 4\n\n+OK\n",
		"Content-Length: 5\nContent-Type: text/event-plain\n\nA: b\n",
		"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + goodbye,
		"Content-Length: -1\n\n", "no colon\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFrameReader(bytes.NewReader(data), 4096)
		for i := 0; i < 64; i++ {
			m, err := fr.ReadMessage()
			if err != nil {
				return
			}
			if len(m.Body) > 4096 {
				t.Fatalf("body above cap")
			}
			_, _ = ParseEvent(m.Body)
		}
	})
}
