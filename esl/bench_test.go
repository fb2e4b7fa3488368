package esl

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/dialplan"
)

// A CHANNEL_EXECUTE_COMPLETE of a bridge as the fake sends it: ~120 headers, every
// channel variable, the shape of most events a call reads.
func sampleEvent(b testing.TB) []byte {
	var sb strings.Builder
	sb.WriteString("Event-Name: CHANNEL_EXECUTE_COMPLETE\nEvent-Sequence: 1234\nUnique-ID: 0b1e4d1c-0000-4000-8000-000000000001\n")
	sb.WriteString("Application: bridge\nApplication-UUID: 0b1e4d1c-0000-4000-8000-000000000002\n")
	for i := range 110 {
		sb.WriteString("variable_v")
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteString(": some%20value%2Bencoded\n")
	}
	sb.WriteString("variable_originate_causes: ARRAY%3A%3Ab1%3BUSER_BUSY%7C%3Ab2%3BNO_ANSWER\n\n")
	return []byte(sb.String())
}

func BenchmarkDecodeEvent(b *testing.B) {
	body := sampleEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		e, err := decodeEvent(body)
		if err != nil || e.name() != "CHANNEL_EXECUTE_COMPLETE" {
			b.Fatal(err)
		}
		_ = e.get("Application-UUID")
	}
}

func BenchmarkReadFrame(b *testing.B) {
	body := sampleEvent(b)
	frame := append([]byte("Content-Length: "+itoa(len(body))+"\nContent-Type: text/event-plain\n\n"), body...)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := readFrame(bufio.NewReader(bytes.NewReader(frame))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDialString(b *testing.B) {
	d := &callDriver{a: &Adapter{o: Options{Gateway: "sofia/gateway/trunk/{number}", ConfirmPrompt: DefaultConfirmPrompt}}}
	legs := []dialplan.Leg{
		{Kind: dialplan.LegDevice, Dial: "user/1000", CallerID: dialplan.Party{Number: "+33145000000", Name: "Eve Durand"}, Display: "Eve Durand"},
		{Kind: dialplan.LegNumber, Dial: "+33612345678", CallerID: dialplan.Party{Number: "+33145000000"}, Display: "Eve Durand", Confirm: true,
			Redirect: dialplan.Redirect{From: dialplan.Party{Number: "+33478000001", Name: "Alice Martin"}, Reason: dialplan.ReasonSimultaneous, Count: 1}},
	}
	b.ReportAllocs()
	for b.Loop() {
		bl := make([]bridgeLeg, len(legs))
		for i := range legs {
			bl[i] = d.leg(&legs[i], 20)
		}
		_ = dialString([]legVar{{"originate_timeout", "20"}}, bl)
	}
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for n >= 10 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	buf[i] = byte('0' + n)
	return string(buf[i:])
}
