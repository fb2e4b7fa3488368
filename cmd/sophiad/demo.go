package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/tone"
)

// The demo company (--demo): site "acme" in Lyon, five users whose sheets together use
// every feature of the sheet, and the media they name. Loading is idempotent: what
// exists is left as it is (an admin may have changed it), what is missing is created.

const demoActor = "sophiad-demo"

var demoSite = `{
  "id": "acme", "name": "Acme Lyon", "number": "+33478000000", "region": "FR",
  "timezone": "Europe/Paris", "max_forward_hops": 5,
  "outside_calls": {"international": false, "premium": false, "allow": ["+41"], "block": ["+3389"]}
}`

// demoMedia are generated tones: French busy and ringback cadences, a hold melody, a
// greeting-like chime.
var demoMedia = []struct {
	name string
	wav  func() []byte
}{
	{"busy-fr", func() []byte {
		return tone.WAV(8000, tone.Segment{Hz: 440, Dur: 500 * time.Millisecond}, tone.Segment{Dur: 500 * time.Millisecond})
	}},
	{"ringback-acme", func() []byte {
		return tone.WAV(8000, tone.Segment{Hz: 440, Dur: 1500 * time.Millisecond}, tone.Segment{Dur: 3500 * time.Millisecond})
	}},
	{"moh-acme", func() []byte {
		var segs []tone.Segment
		for _, hz := range []float64{523, 659, 784, 659, 523, 392} {
			segs = append(segs, tone.Segment{Hz: hz, Dur: 300 * time.Millisecond})
		}
		return tone.WAV(8000, segs...)
	}},
	{"greeting-alice", func() []byte {
		return tone.WAV(8000, tone.Segment{Hz: 880, Dur: 200 * time.Millisecond}, tone.Segment{Hz: 660, Dur: 300 * time.Millisecond})
	}},
}

// demoUsers are in creation order: a sheet may only name users that exist.
var demoUsers = []string{
	// Bob: the unconditional forward, on, to his mobile.
	`{
  "id": "bob", "site": "acme", "name": "Bob Durand", "main_number": "+33478000002",
  "associated_numbers": [{"number": "+33612345679", "label": "mobile", "callback": true, "presentation": true}],
  "device": {"id": "desk-bob", "endpoint": "PJSIP/bob", "model": "yealink-t46u"},
  "forwards": {"unconditional": {"enabled": true, "target": "+33612345679"},
               "no_answer": {"enabled": true, "target": "voicemail", "timeout_s": 25}},
  "voicemail": {"enabled": true, "retention_days": 30}
}`,
	// Carol: do not disturb, busy forward to voicemail, the site number presented.
	`{
  "id": "carol", "site": "acme", "name": "Carol Petit", "main_number": "+33478000003",
  "device": {"id": "desk-carol", "endpoint": "PJSIP/carol"},
  "dnd": true, "presented_number": {"mode": "site"},
  "forwards": {"busy": {"enabled": true, "target": "voicemail"}},
  "advanced": {"max_simultaneous_calls": 1, "call_waiting": false, "incoming_display": "called_number", "redirect_info": true}
}`,
	// Dave: an extension only, no device (every call takes the not-connected path),
	// anonymous outbound calls.
	`{
  "id": "dave", "site": "acme", "name": "Dave Leroy", "main_number": "2004",
  "presented_number": {"mode": "anonymous"},
  "forwards": {"not_connected": {"enabled": true, "target": "user:bob"}},
  "voicemail": {"enabled": true, "announce_number": true, "max_messages": 20}
}`,
	// Eve: remote voicemail access, a no-answer forward to a colleague.
	`{
  "id": "eve", "site": "acme", "name": "Eve Moreau", "main_number": "+33478000005",
  "associated_numbers": [{"number": "+33612345680", "label": "mobile", "callback": false, "presentation": false}],
  "device": {"id": "desk-eve", "endpoint": "PJSIP/eve"},
  "forwards": {"no_answer": {"enabled": true, "target": "user:carol", "timeout_s": 15}},
  "voicemail": {"enabled": true, "remote_access": {"enabled": true, "allowed_numbers": ["+33612345680"]},
                "notify": {"call_without_message": true, "mailbox_full": true}}
}`,
	// Alice: the receptionist, whose sheet shows everything else.
	`{
  "id": "alice", "site": "acme", "name": "Alice Martin", "timezone": "Europe/Paris",
  "comment": "Accueil, site de Lyon",
  "main_number": "+33478000001",
  "associated_numbers": [{"number": "+33612345678", "label": "mobile", "callback": true, "presentation": true}],
  "short_numbers": [{"code": "12", "number": "+33478000099", "label": "Standard"},
                    {"code": "13", "number": "2004", "label": "Dave"}],
  "device": {"id": "desk-alice", "endpoint": "PJSIP/alice", "mac": "80:5e:c0:a1:b2:c3", "model": "yealink-t54w"},
  "function_keys": [
    {"position": 1, "type": "supervision", "label": "Bob", "target": "user:bob"},
    {"position": 2, "type": "supervision", "label": "Carol", "target": "user:carol"},
    {"position": 3, "type": "space"},
    {"position": 4, "type": "shortcut", "label": "Support", "target": "+33478000050"}
  ],
  "audio": {"busy": "busy-fr", "ringback": "ringback-acme", "hold": "moh-acme"},
  "presented_number": {"mode": "associated", "number": "+33612345678"},
  "advanced": {"max_simultaneous_calls": 2, "call_waiting": true, "incoming_display": "caller", "redirect_info": true},
  "forwards": {
    "unconditional": {"enabled": false, "target": "+33612345678"},
    "scheduled": [{"enabled": true, "target": "voicemail", "days": ["mon","tue","wed","thu","fri"], "start": "18:00", "end": "08:00"},
                  {"enabled": true, "target": "user:bob", "from": "2026-12-24", "until": "2026-12-26", "start": "00:00", "end": "00:00"}],
    "no_answer": {"enabled": true, "target": "voicemail", "timeout_s": 20},
    "not_connected": {"enabled": true, "target": "+33612345678"},
    "busy": {"enabled": true, "target": "user:bob"},
    "simultaneous_ring": {"enabled": true, "targets": ["+33612345678"], "confirm": true}
  },
  "voicemail": {"enabled": true, "greeting": "greeting-alice", "announce_number": true, "retention_days": 30,
                "max_messages": 100,
                "email": {"enabled": true, "address": "alice@example.com", "attach_audio": true, "delete_after_email": true},
                "notify": {"call_without_message": true, "mailbox_full": true},
                "remote_access": {"enabled": true, "allowed_numbers": ["+33612345678"]}}
}`,
}

// loadDemo creates whatever part of the demo company is missing.
func loadDemo(ctx context.Context, store *config.Store, log *slog.Logger) error {
	created := 0
	if _, err := store.GetSite(ctx, "acme"); errors.Is(err, config.ErrNotFound) {
		site, err := config.DecodeSite([]byte(demoSite))
		if err != nil {
			return fmt.Errorf("site acme: %w", err)
		}
		if _, err := store.PutSite(ctx, site, demoActor); err != nil {
			return fmt.Errorf("site acme: %w", err)
		}
		created++
	} else if err != nil {
		return err
	}
	for _, m := range demoMedia {
		if _, _, err := store.GetMedia(ctx, m.name); errors.Is(err, config.ErrNotFound) {
			if _, err := store.PutMedia(ctx, m.name, m.wav(), demoActor); err != nil {
				return fmt.Errorf("media %s: %w", m.name, err)
			}
			created++
		} else if err != nil {
			return err
		}
	}
	for _, raw := range demoUsers {
		sheet, err := config.DecodeSheet([]byte(raw))
		if err != nil {
			return fmt.Errorf("demo sheet: %w", err)
		}
		if _, err := store.GetUser(ctx, sheet.ID); errors.Is(err, config.ErrNotFound) {
			if _, err := store.PutUser(ctx, sheet, demoActor); err != nil {
				return fmt.Errorf("user %s: %w", sheet.ID, err)
			}
			created++
		} else if err != nil {
			return err
		}
	}
	log.Info("demo company loaded", "site", "acme", "users", len(demoUsers), "created", created)
	return nil
}
