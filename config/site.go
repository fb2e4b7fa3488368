package config

// DefaultSiteID names the site that always exists; a sheet naming no site belongs to it.
const DefaultSiteID = "default"

// Site is a company, or one of its locations, that users belong to.
type Site struct {
	ID string `json:"id"`
	// Version counts stored writes (0 on input: create). It is marshaled right after
	// id: the call path's Lua script reads it from the stored JSON's prefix.
	Version int64  `json:"version"`
	Name    string `json:"name"`
	// Number is the switchboard number users of the site may present.
	Number string `json:"number,omitempty"`
	// Region is the ISO 3166 region numbers are parsed in when not written in E.164 ("FR").
	Region string `json:"region"`
	// Timezone is the IANA zone of the site, the default for its users.
	Timezone string `json:"timezone"`
	// OutsideCalls says which outside destinations forwards and outbound calls may reach.
	OutsideCalls OutsidePolicy `json:"outside_calls"`
	// MaxForwardHops bounds a call's diversion history (DESIGN.md §2 rule 1).
	MaxForwardHops int `json:"max_forward_hops"`
}

// OutsidePolicy decides which outside numbers may be reached. National fixed and mobile
// numbers are always allowed unless blocked; international and premium-rate numbers only
// when allowed here. Allow and Block hold E.164 prefixes ("+44", "+3389"); the longest
// matching prefix wins, Block on a tie.
type OutsidePolicy struct {
	International bool     `json:"international"`
	Premium       bool     `json:"premium"`
	Allow         []string `json:"allow"`
	Block         []string `json:"block"`
}

// DefaultSite returns the built-in default site, also the defaults of any new site.
func DefaultSite() Site {
	return Site{
		ID:             DefaultSiteID,
		Name:           "Default",
		Region:         "FR",
		Timezone:       "Europe/Paris",
		MaxForwardHops: 5,
		OutsideCalls:   OutsidePolicy{Allow: []string{}, Block: []string{}},
	}
}
