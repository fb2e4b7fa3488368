package scenario

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// Load writes a row's world into a store, as a Runner must before placing the call:
// the media the sheets name (each a short silence, WAV PCM), the site with a permissive policy (WritableSite), every sheet without forwards (Bare),
// every sheet in full, the row's site (its policy may refuse what a sheet uses, as a
// later change would), then device states (a device scripted Offline is unregistered,
// the others online) and the calls in progress (leases of an hour, ids "active-<n>").
//
// endpoint, when not nil, rewrites each device's endpoint into the PBX's dial string
// (FreeSWITCH: "user/alice"); the table says "PJSIP/<uid>".
func Load(ctx context.Context, st *config.Store, r *Row, endpoint func(uid string) string) error {
	site, users := r.World()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range users {
			if !yield(id) {
				return
			}
		}
	})
	if endpoint != nil {
		for _, id := range ids {
			if d := users[id].Device; d != nil {
				d.Endpoint = endpoint(id)
			}
		}
	}
	for _, id := range ids {
		a := users[id].Audio
		for _, m := range []string{a.Busy, a.Ringback, a.Hold, users[id].Voicemail.Greeting} {
			if m == "" {
				continue
			}
			if _, err := st.PutMedia(ctx, m, silence(), "scenario"); err != nil {
				return fmt.Errorf("media %q: %w", m, err)
			}
		}
	}
	w := WritableSite(site)
	w.Version = 0
	stored, err := st.PutSite(ctx, w, "scenario")
	if err != nil {
		return fmt.Errorf("write site: %w", err)
	}
	versions := map[string]int64{}
	for _, id := range ids {
		b := Bare(users[id])
		b.Version = 0
		out, err := st.PutUser(ctx, b, "scenario")
		if err != nil {
			return fmt.Errorf("write %s without forwards: %w", id, err)
		}
		versions[id] = out.Version
	}
	for _, id := range ids {
		s := *users[id]
		s.Version = versions[id]
		if _, err := st.PutUser(ctx, &s, "scenario"); err != nil {
			return fmt.Errorf("write %s: %w", id, err)
		}
	}
	final := *site
	final.Version = stored.Version
	if _, err := st.PutSite(ctx, &final, "scenario"); err != nil {
		return fmt.Errorf("write the row's site: %w", err)
	}
	for _, id := range ids {
		if d := users[id].Device; d != nil && d.Endpoint != "" {
			if _, err := st.SetDeviceState(ctx, d.Endpoint, r.DeviceState(id)); err != nil {
				return fmt.Errorf("device of %s: %w", id, err)
			}
		}
		for n := range r.Active[id] {
			if _, err := st.AcquireCall(ctx, id, fmt.Sprintf("active-%d", n), time.Hour); err != nil {
				return fmt.Errorf("calls of %s: %w", id, err)
			}
		}
	}
	return nil
}

// silence is 100 ms of silence as a WAV file: PCM, 8 kHz, mono, 16 bits.
func silence() []byte {
	const rate, samples = 8000, 800
	b := make([]byte, 44+2*samples)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], rate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], 2*samples)
	return b
}
