package config

import "time"

// DeviceState is whether a user's device can take calls, as the PBX last reported it.
type DeviceState uint8

// Device states. A device whose technology keeps no state (Asterisk Local channels) is
// Online: the dial result decides (unreachable → the not-connected path).
const (
	DeviceUnknown DeviceState = iota // never reported: treated as online by the engine
	DeviceOnline
	DeviceOffline
)

var deviceStateNames = [...]string{"unknown", "online", "offline"}

func (d DeviceState) String() string {
	if int(d) < len(deviceStateNames) {
		return deviceStateNames[d]
	}
	return "unknown"
}

// CallView is everything the call path needs about one user, read in one pipelined
// Redis round trip: the compiled sheet (decoded once per change, then cached), the device
// state and the user's active calls across every daemon.
type CallView struct {
	User        *Compiled
	Device      DeviceState
	DeviceAt    time.Time // when Device was last reported (zero if never)
	ActiveCalls int       // unexpired call leases
}
