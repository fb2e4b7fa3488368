package config

// Sheet is one user's telephony settings: the four tabs of DESIGN.md §1 (general,
// parameters, forwards, voicemail) plus identity. JSON names are the public contract
// (admins script against them); fields omitted on input keep the values of DefaultSheet.
type Sheet struct {
	ID   string `json:"id"`
	Site string `json:"site"` // "" on input means DefaultSiteID
	// Version counts stored writes; a write naming a stale version is refused
	// (ErrVersionConflict). 0 on input means "create": refused if the user exists.
	// It is marshaled right after id and site: the call path's Lua script reads the
	// stored JSON's prefix to learn both without decoding (store_callview.go).
	Version  int64  `json:"version"`
	Name     string `json:"name"`               // display name, e.g. "Alice Martin"
	Timezone string `json:"timezone,omitempty"` // IANA; "" means the site's
	Comment  string `json:"comment,omitempty"`

	// General.
	MainNumber        string             `json:"main_number,omitempty"`
	AssociatedNumbers []AssociatedNumber `json:"associated_numbers"`
	ShortNumbers      []ShortNumber      `json:"short_numbers"`
	Device            *Device            `json:"device"` // nil: no device, every call takes the not-connected path

	// Parameters.
	FunctionKeys    []FunctionKey   `json:"function_keys"`
	Audio           Audio           `json:"audio"`
	PresentedNumber PresentedNumber `json:"presented_number"`
	DND             bool            `json:"dnd"`
	Advanced        Advanced        `json:"advanced"`

	Forwards  Forwards  `json:"forwards"`
	Voicemail Voicemail `json:"voicemail"`
}

// AssociatedNumber is an extra number of the user: a mobile, a direct line.
type AssociatedNumber struct {
	Number string `json:"number"`
	Label  string `json:"label,omitempty"`
	// Callback: calls to this number reach the user (it is indexed number→user).
	Callback bool `json:"callback"`
	// Presentation: the user may show this number as caller ID.
	Presentation bool `json:"presentation"`
}

// ShortNumber is a personal speed dial: dialing Code calls Number.
type ShortNumber struct {
	Code   string `json:"code"`
	Number string `json:"number"`
	Label  string `json:"label,omitempty"`
}

// Device is the user's phone. Endpoint is the PBX dial string as is: PJSIP/alice or
// Local/100@phones on Asterisk, user/1000 or sofia/internal/alice%example.com on FreeSWITCH.
type Device struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	MAC      string `json:"mac,omitempty"`
	Model    string `json:"model,omitempty"`
}

// Function key types.
const (
	KeyShortcut    = "shortcut"    // dials Target (a number)
	KeySpace       = "space"       // an empty key grouping the others
	KeySupervision = "supervision" // BLF on Target, "user:<id>"
)

// FunctionKey is one programmable key of the phone, ordered by Position (1-based).
type FunctionKey struct {
	Position int    `json:"position"`
	Type     string `json:"type"`
	Label    string `json:"label,omitempty"`
	Target   string `json:"target,omitempty"`
}

// Audio holds media library references ("" = the PBX's default tone or class).
type Audio struct {
	Busy     string `json:"busy,omitempty"`
	Ringback string `json:"ringback,omitempty"`
	Hold     string `json:"hold,omitempty"`
}

// Presented number modes.
const (
	PresentMain       = "main"
	PresentAssociated = "associated" // with Number, an associated number marked Presentation
	PresentSite       = "site"       // the site's switchboard number
	PresentAnonymous  = "anonymous"
)

// PresentedNumber is the caller ID the user shows on outbound calls (CLI).
type PresentedNumber struct {
	Mode   string `json:"mode"`
	Number string `json:"number,omitempty"`
}

// Incoming display modes: what the callee's phone shows for an incoming call.
const (
	DisplayCaller       = "caller"        // the caller's number and name
	DisplayCalledNumber = "called_number" // which of the user's numbers was dialed
	DisplayContextName  = "context_name"  // the label of the number dialed (or the site name)
)

// Advanced are the sheet's advanced parameters.
type Advanced struct {
	MaxSimultaneousCalls int    `json:"max_simultaneous_calls"`
	CallWaiting          bool   `json:"call_waiting"`
	IncomingDisplay      string `json:"incoming_display"`
	RedirectInfo         bool   `json:"redirect_info"` // show who forwarded a call, and why
}

// Forward targets other than numbers.
const (
	TargetVoicemail  = "voicemail"
	TargetUserPrefix = "user:"
)

// Forward is a simple on/off forward to one target: "voicemail", "user:<id>" or a number.
type Forward struct {
	Enabled bool   `json:"enabled"`
	Target  string `json:"target,omitempty"`
}

// NoAnswerForward is the forward taken when the device rang TimeoutS seconds unanswered.
// TimeoutS is also how long the device rings when this forward is off.
type NoAnswerForward struct {
	Enabled  bool   `json:"enabled"`
	Target   string `json:"target,omitempty"`
	TimeoutS int    `json:"timeout_s"`
}

// ScheduledRule forwards calls during a period. A time range may cross midnight
// (18:00–08:00): it then belongs to the day it starts, for Days and From/Until alike.
// Start == End means the whole day. Dates are inclusive, YYYY-MM-DD, either may be "".
type ScheduledRule struct {
	Enabled  bool     `json:"enabled"`
	Target   string   `json:"target"`
	From     string   `json:"from,omitempty"`
	Until    string   `json:"until,omitempty"`
	Days     []string `json:"days,omitempty"`     // mon…sun; empty means every day
	Start    string   `json:"start"`              // HH:MM wall clock
	End      string   `json:"end"`                // HH:MM wall clock
	Timezone string   `json:"timezone,omitempty"` // "" means the user's
}

// SimultaneousRing rings extra targets together with the device.
type SimultaneousRing struct {
	Enabled bool     `json:"enabled"`
	Targets []string `json:"targets"`
	// Confirm asks the answerer of an outside leg to press 1, so that a mobile's own
	// voicemail cannot swallow the call.
	Confirm bool `json:"confirm"`
}

// Forwards groups every forward of the sheet.
type Forwards struct {
	Unconditional    Forward          `json:"unconditional"`
	Scheduled        []ScheduledRule  `json:"scheduled"`
	NoAnswer         NoAnswerForward  `json:"no_answer"`
	NotConnected     Forward          `json:"not_connected"`
	Busy             Forward          `json:"busy"`
	SimultaneousRing SimultaneousRing `json:"simultaneous_ring"`
}

// Voicemail is the user's mailbox settings. The PIN is not here: it is set through its
// own write-only route and stored hashed; PINSet only says whether one exists.
type Voicemail struct {
	Enabled        bool            `json:"enabled"`
	Greeting       string          `json:"greeting"` // media library reference; "" (or null) = none
	AnnounceNumber bool            `json:"announce_number"`
	RetentionDays  int             `json:"retention_days"` // 0 = keep until deleted
	MaxMessages    int             `json:"max_messages"`
	Email          VoicemailEmail  `json:"email"`
	Notify         VoicemailNotify `json:"notify"`
	RemoteAccess   RemoteAccess    `json:"remote_access"`
	// PINSet is output only: true when a PIN has been set. Ignored on input.
	PINSet bool `json:"pin_set"`
}

// VoicemailEmail sends each new message by email.
type VoicemailEmail struct {
	Enabled          bool   `json:"enabled"`
	Address          string `json:"address,omitempty"`
	AttachAudio      bool   `json:"attach_audio"`
	DeleteAfterEmail bool   `json:"delete_after_email"`
}

// VoicemailNotify sends notifications besides messages.
type VoicemailNotify struct {
	CallWithoutMessage bool `json:"call_without_message"`
	MailboxFull        bool `json:"mailbox_full"`
}

// RemoteAccess lets the user reach the mailbox from other numbers (the PIN is still asked).
type RemoteAccess struct {
	Enabled        bool     `json:"enabled"`
	AllowedNumbers []string `json:"allowed_numbers"`
}
