package config

// Documented defaults of a sheet (README, "The user sheet"). Decoding a sheet starts from
// DefaultSheet, so a field left out of the JSON keeps the value below.
const (
	DefaultMaxSimultaneousCalls = 2
	DefaultNoAnswerTimeoutS     = 20
	DefaultMaxMessages          = 100
	MinNoAnswerTimeoutS         = 5
	MaxNoAnswerTimeoutS         = 120
)

// DefaultSheet returns a sheet holding every default: no numbers, no device, every forward
// off, call waiting on, the caller shown on incoming calls, the main number presented,
// voicemail on with 100 messages and no retention limit.
func DefaultSheet() Sheet {
	return Sheet{
		Site:              DefaultSiteID,
		AssociatedNumbers: []AssociatedNumber{},
		ShortNumbers:      []ShortNumber{},
		FunctionKeys:      []FunctionKey{},
		PresentedNumber:   PresentedNumber{Mode: PresentMain},
		Advanced: Advanced{
			MaxSimultaneousCalls: DefaultMaxSimultaneousCalls,
			CallWaiting:          true,
			IncomingDisplay:      DisplayCaller,
		},
		Forwards: Forwards{
			Scheduled:        []ScheduledRule{},
			NoAnswer:         NoAnswerForward{TimeoutS: DefaultNoAnswerTimeoutS},
			SimultaneousRing: SimultaneousRing{Targets: []string{}},
		},
		Voicemail: Voicemail{
			Enabled:        true,
			AnnounceNumber: true,
			MaxMessages:    DefaultMaxMessages,
			RemoteAccess:   RemoteAccess{AllowedNumbers: []string{}},
		},
	}
}
