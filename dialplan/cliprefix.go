package dialplan

import (
	"errors"
	"strconv"
)

// CLIMode is what a per-call CLI prefix asks to present.
type CLIMode uint8

// CLI prefix modes.
const (
	CLIDefault    CLIMode = iota // no prefix: the sheet's presented_number
	CLIHide                      // *31 or #31#: withhold the number for this call
	CLIMain                      // *33: present the main number
	CLIAssociated                // *32n: present associated number n (1-based)
	CLISite                      // *34: present the site's number
)

var cliModeNames = [...]string{"default", "hide", "main", "associated", "site"}

// String returns the mode's name.
func (m CLIMode) String() string {
	if int(m) < len(cliModeNames) {
		return cliModeNames[m]
	}
	return "default"
}

// CLIChoice is the presentation a call's prefix asks for.
type CLIChoice struct {
	Mode  CLIMode
	Index int // CLIAssociated: 1-based position in associated_numbers
}

// Errors of ParseCLIPrefix.
var (
	ErrPrefixNoNumber = errors.New("CLI prefix without a number to call")
	ErrPrefixIndex    = errors.New("*32 must be followed by an associated number position, 1 to 9")
)

// ParseCLIPrefix splits a dialed string into its per-call CLI prefix and the number to
// call. The prefixes (also in the package doc):
//
//	*31<number>    withhold the caller ID for this call (also #31#<number>, as on mobiles)
//	*32<n><number> present associated number n (1–9, its position in associated_numbers)
//	*33<number>    present the main number
//	*34<number>    present the site's switchboard number
//
// Anything else is no prefix: the whole string is the number (CLIDefault). A prefix with
// nothing after it is ErrPrefixNoNumber; *32 without a digit 1–9 is ErrPrefixIndex.
// Whether the user may present the chosen number is DecideOutbound's question.
func ParseCLIPrefix(dialed string) (CLIChoice, string, error) {
	var c CLIChoice
	rest := dialed
	switch {
	case len(dialed) >= 4 && dialed[:4] == "#31#":
		c.Mode, rest = CLIHide, dialed[4:]
	case len(dialed) >= 3 && dialed[0] == '*' && dialed[1] == '3':
		switch dialed[2] {
		case '1':
			c.Mode, rest = CLIHide, dialed[3:]
		case '2':
			if len(dialed) < 4 || dialed[3] < '1' || dialed[3] > '9' {
				return CLIChoice{}, "", ErrPrefixIndex
			}
			c.Mode, c.Index, rest = CLIAssociated, int(dialed[3]-'0'), dialed[4:]
		case '3':
			c.Mode, rest = CLIMain, dialed[3:]
		case '4':
			c.Mode, rest = CLISite, dialed[3:]
		default:
			return c, dialed, nil
		}
	default:
		return c, dialed, nil
	}
	if rest == "" {
		return CLIChoice{}, "", ErrPrefixNoNumber
	}
	return c, rest, nil
}

// String renders the choice as its prefix ("*322"), "" for CLIDefault.
func (c CLIChoice) String() string {
	switch c.Mode {
	case CLIHide:
		return "*31"
	case CLIMain:
		return "*33"
	case CLISite:
		return "*34"
	case CLIAssociated:
		return "*32" + strconv.Itoa(c.Index)
	}
	return ""
}
